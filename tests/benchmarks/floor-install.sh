#!/usr/bin/env bash
# The floor: the same-host install that playbooks/site.yml makes, done by a plain shell script with no checks, no
# idempotence and no rollback, as someone would type it once. converge-floor.sh runs it inside a fresh container
# (as root, through `docker exec`) and times it against the playbook. A benchmark helper, not an installer.
#   floor-install.sh ARCHIVE VERSION [off|on]
#   floor-install.sh --packages off|on     (prints the apt transaction's package list for this host and stops)
# ARCHIVE: a Mathesar release archive inside the container (the stand-in in the benchmark); VERSION: its version.
# on: also the hardening role's packages and its AIDE database (the role's AIDE settings, the role's command).
# What it does, in the playbook's order: one apt transaction (the packages site.yml installs for a host in both
# groups: PostgreSQL, pgBackRest, Mathesar's system needs, Caddy, and with "on" the hardening role's), PostgreSQL's
# settings drop-in and WAL archiving to pgBackRest, one restart, Mathesar's role and database, the stanza, a check
# and the first full backup, the release unpacked with its own venv and requirements (uv, as the playbook), the env
# file and local.py, migrate + collectstatic, the gunicorn unit, the first admin, a Caddyfile with `tls internal`
# serving /static/ itself, and the login page answering through Caddy. Prints each step's seconds on stderr as "floor-step NAME S".
set -euo pipefail
if [ "$1" = --packages ]; then
  archive=
  version=
  hardening=$2
else
  archive=$1
  version=$2
  hardening=${3:-off}
fi
export DEBIAN_FRONTEND=noninteractive
domain=mathesar.test
root=/opt/mathesar
release=$root/releases/$version
config=$root/shared/config
media=$root/shared/media
# Benchmark-only secrets (the playbook side takes its own from the test vault).
db_password=floor-db-password
secret_key=floor-secret-key-0123456789abcdef0123456789abcdef
admin_password=floor-admin-password
cipher_pass=floor-pgbackrest-cipher-pass

last=$(date +%s.%N)
step() {  # step NAME: prints the seconds since the previous step
  local now
  now=$(date +%s.%N)
  printf 'floor-step %s %.1f\n' "$1" "$(python3 -c "print($now - $last)")" >&2
  last=$now
}

# --- One apt transaction ---------------------------------------------------------------------------------------
# shellcheck source=/dev/null
. /etc/os-release
case "$VERSION_ID" in
  12) pg=15; build=() ;;
  # Python 3.13: clevercsv and SQLAlchemy 1.4 are compiled by pip.
  13) pg=17; build=(gcc libc6-dev python3-dev) ;;
  *) echo "floor: Debian $VERSION_ID is not supported" >&2; exit 2 ;;
esac
packages=("postgresql-$pg" python3-psycopg2 acl pgbackrest
          python3-venv python3-packaging libcairo2 ca-certificates postgresql-client "${build[@]}" caddy)
if [ "$hardening" = on ]; then
  # roles/hardening/defaults/main.yml, hardening_packages with every concern on (the default).
  packages+=(openssh-server nftables fail2ban python3-systemd unattended-upgrades needrestart
             libpam-pwquality cracklib-runtime libpam-tmpdir aide aide-common debsums cron logrotate postfix bsd-mailx)
fi
[ -n "$archive" ] || { echo "${packages[*]}"; exit 0; }
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null
step apt

# --- PostgreSQL: settings, archiving to pgBackRest, one restart, Mathesar's role and database -----------------
conf=/etc/postgresql/$pg/main/conf.d
mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
cat > "$conf/50-mathesar-deploy.conf" <<EOF
listen_addresses = 'localhost'
password_encryption = scram-sha-256
shared_buffers = $((mem_mb / 4))MB
effective_cache_size = $((mem_mb * 3 / 4))MB
EOF
cat > "$conf/60-pgbackrest.conf" <<'EOF'
archive_mode = on
archive_command = 'pgbackrest --stanza=mathesar archive-push %p'
archive_timeout = 60
EOF
mkdir -p /etc/pgbackrest /var/lib/pgbackrest /var/spool/pgbackrest
cat > /etc/pgbackrest/pgbackrest.conf <<EOF
[global]
repo1-path=/var/lib/pgbackrest
repo1-retention-full=2
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$cipher_pass
compress-type=zst
start-fast=y
archive-async=y
spool-path=/var/spool/pgbackrest

[mathesar]
pg1-path=/var/lib/postgresql/$pg/main
pg1-port=5432
EOF
chown root:postgres /etc/pgbackrest/pgbackrest.conf && chmod 0640 /etc/pgbackrest/pgbackrest.conf
chown postgres:postgres /var/lib/pgbackrest /var/spool/pgbackrest && chmod 0750 /var/lib/pgbackrest
systemctl restart "postgresql@$pg-main"
runuser -u postgres -- psql -q -c "CREATE ROLE mathesar LOGIN CREATEDB PASSWORD '$db_password'"
runuser -u postgres -- createdb -O mathesar mathesar_django
step postgresql
runuser -u postgres -- pgbackrest --stanza=mathesar --log-level-console=warn stanza-create
runuser -u postgres -- pgbackrest --stanza=mathesar --log-level-console=warn check
runuser -u postgres -- pgbackrest --stanza=mathesar --log-level-console=warn --type=full backup
step pgbackrest

# --- The release: unpack, venv, requirements ------------------------------------------------------------------
groupadd --system mathesar
useradd --system --gid mathesar --shell /usr/sbin/nologin --home-dir "$root" --no-create-home mathesar
install -d -m 0755 "$root" "$root/releases" "$release"
install -d -m 0750 -g mathesar "$root/shared" "$config"
install -d -m 0750 -o mathesar -g mathesar "$media"
install -d -m 0700 "$root/archives"
cp "$archive" "$root/archives/mathesar-$version.tar.gz"
tar -xzf "$archive" -C "$release" --no-same-owner
step unpack
# As the playbook does by default (mathesar_app_python_installer uv): uv in a venv of its own, then the release venv
# and the requirements with bytecode compiled; FLOOR_INSTALLER=pip uses pip in the release venv instead.
if [ "${FLOOR_INSTALLER:-uv}" = uv ]; then
  python3 -m venv "$root/tools/uv"
  "$root/tools/uv/bin/pip" install -q "uv==${FLOOR_UV_VERSION:-0.13.9}"
  step uv
  (cd / && UV_SYSTEM_CERTS=true UV_PYTHON_DOWNLOADS=never "$root/tools/uv/bin/uv" venv --quiet --no-project \
    --python /usr/bin/python3 "$release/.venv")
  step venv
  (cd / && UV_SYSTEM_CERTS=true UV_PYTHON_DOWNLOADS=never "$root/tools/uv/bin/uv" pip install --quiet \
    --compile-bytecode --python "$release/.venv/bin/python" -r "$release/requirements.txt")
  step pip
else
  python3 -m venv "$release/.venv"
  step venv
  "$release/.venv/bin/pip" install -q -r "$release/requirements.txt"
  step pip
fi

# --- Configuration, migrate + collectstatic, service ----------------------------------------------------------
cat > "$config/mathesar.env" <<EOF
POSTGRES_DB="mathesar_django"
POSTGRES_USER="mathesar"
POSTGRES_PASSWORD="$db_password"
POSTGRES_HOST="localhost"
POSTGRES_PORT="5432"
POSTGRES_SSLMODE="prefer"
SECRET_KEY="$secret_key"
ALLOWED_HOSTS="$domain"
DEBUG="False"
MEDIA_ROOT="$media"
WEB_CONCURRENCY="2"
DJANGO_SETTINGS_MODULE="config.settings.production"
EOF
chmod 0600 "$config/mathesar.env"
cat > "$config/local.py" <<EOF
import sys as _sys

CSRF_TRUSTED_ORIGINS = ["https://$domain"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

_settings = _sys.modules.get(__name__.rpartition(".")[0] + ".production")
for _db in getattr(_settings, "DATABASES", {}).values():
    _db["CONN_MAX_AGE"] = 60
    _db["CONN_HEALTH_CHECKS"] = True
EOF
chgrp mathesar "$config/local.py" && chmod 0640 "$config/local.py"
ln -sfn "$config/local.py" "$release/config/settings/local.py"
# shellcheck source=/dev/null
(cd "$release" && set -a && . "$config/mathesar.env" && set +a && .venv/bin/python -m mathesar.install >/dev/null)
ln -sfn "$release" "$root/current"
step migrate
cat > /etc/systemd/system/mathesar.service <<EOF
[Unit]
Description=Mathesar (gunicorn)
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=exec
User=mathesar
Group=mathesar
WorkingDirectory=$root/current
EnvironmentFile=$config/mathesar.env
ExecStart=$root/current/.venv/bin/gunicorn config.wsgi:application --bind 127.0.0.1:8000 \\
  --forwarded-allow-ips 127.0.0.1 --access-logfile - --error-logfile -
Restart=on-failure
UMask=0027
NoNewPrivileges=true
ProtectSystem=strict
ReadWritePaths=$media
PrivateTmp=true

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now mathesar.service 2>/dev/null
for _ in $(seq 1 90); do
  curl -fs -o /dev/null -H "Host: $domain" -H 'X-Forwarded-Proto: https' http://127.0.0.1:8000/auth/login/ && break
  sleep 0.5
done
# shellcheck source=/dev/null
(cd "$root/current" && set -a && . "$config/mathesar.env" && set +a &&
  DJANGO_SUPERUSER_USERNAME=admin DJANGO_SUPERUSER_EMAIL=admin@example.org DJANGO_SUPERUSER_PASSWORD=$admin_password \
  .venv/bin/python manage.py createsuperuser --noinput >/dev/null)
step service+admin

# --- Caddy ----------------------------------------------------------------------------------------------------
cat > /etc/caddy/Caddyfile <<EOF
{
	admin unix//var/lib/caddy/admin.sock
	skip_install_trust
}

$domain {
	tls internal
	encode zstd gzip
	handle_path /static/* {
		root * $root/current/static
		file_server {
			precompressed gzip
		}
	}
	reverse_proxy 127.0.0.1:8000
}
EOF
systemctl restart caddy
for _ in $(seq 1 60); do
  code=$(curl -sk -o /dev/null -w '%{http_code}' --resolve "$domain:443:127.0.0.1" "https://$domain/auth/login/" || true)
  [ "$code" = 200 ] && break
  sleep 0.5
done
[ "$code" = 200 ] || { echo "floor: the login page through Caddy answered $code" >&2; exit 1; }
step caddy

# --- Hardening: the role's AIDE settings and database (as the role builds it) ---------------------------------
if [ "$hardening" = on ]; then
  sed -i 's/^Checksums *=.*/Checksums = sha512/' /etc/aide/aide.conf
  {
    for path in "$root" /var/backups/mathesar /var/lib/caddy /var/lib/postgresql /var/lib/pgbackrest \
      /var/spool/pgbackrest /var/log /var/lib/aide /var/cache /var/tmp; do
      printf '!%s(/|$)\n' "$path"
    done
  } > /etc/aide/aide.conf.d/00_mathesar-deploy
  /usr/bin/aide --config /etc/aide/aide.conf --init >/dev/null
  chown _aide:_aide /var/lib/aide/aide.db.new
  mv -f /var/lib/aide/aide.db.new /var/lib/aide/aide.db
  step aide
fi
echo "floor: Mathesar $version answers at https://$domain/auth/login/ through Caddy (hardening $hardening)" >&2
