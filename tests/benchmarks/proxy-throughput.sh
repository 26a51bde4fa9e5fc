#!/usr/bin/env bash
# Proxy throughput (issue 14): Caddy and nginx in front of Mathesar, against gunicorn answering directly. Two fresh
# sibling containers from the same base image, each deployed with playbooks/site.yml in the same-host layout (the
# same_host scenario's converge: example inventory, test overrides, test vault, stand-in release; hardening off):
#   caddy:  reverse_proxy_backend caddy, tls mode internal (the tests' default)
#   nginx:  reverse_proxy_backend nginx, tls mode files (a chain from tests/testbed/site_pki.py)
# (both deploys at the same time). Then, in each container, Debian's wrk against loopback only (nothing leaves the
# test bed): WRK_CONNECTIONS (50) keep-alive connections, WRK_THREADS (2) threads, DURATION (15) seconds per case,
# --latency, for
#   login:  /auth/login/ through the proxy over HTTPS (SNI and Host the site's domain, an /etc/hosts entry), and
#           through gunicorn directly (http://127.0.0.1:<mathesar_app_listen_port>, Host header);
#   static: a file the size of the real 0.10.1 main bundle (2.4 MB, about 628 KB gzipped: the stand-in's bundle
#           with one line in ten made random, its .gz copy made as collectstatic makes it) under the collected static
#           folder with a hashed name, through the proxy (which serves it from disk) and through gunicorn +
#           WhiteNoise directly, each with a browser's Accept-Encoding (gzip, deflate, br, zstd) and with none.
# Every request carries that browser Accept-Encoding unless the case says "identity". Prints one line per run (req/s,
# transfer/s, p99 latency, non-2xx and socket errors), then the medians over the rounds and the proxy overhead on
# the login page against gunicorn direct in the same container.
# The cases run one at a time, never two at once: wrk, the proxy, gunicorn and PostgreSQL share the machine's two
# cores, so a case beside another would measure the other's load. ROUNDS (3) rounds interleave the cases of both
# containers, the order reversed every other round, so that both backends see the same minutes of a machine whose
# speed drifts; between two runs the container's TIME_WAIT sockets drain (below 2000, at most 60 s).
# Then the tuning arms (ARMS, "none" for none; see arm_apply): each arm changes the live configuration inside one
# container (never the role), is measured beside that container's unchanged configuration in the same rounds
# (TUNE_ROUNDS, 2), and is undone. A benchmark, not a test: nothing fails on a number. Record its output in
# docs/benchmarks.md.
#   tests/benchmarks/proxy-throughput.sh [trixie|bookworm]
# REVISION=<git revision> deploys that revision's playbook (a detached worktree, removed on exit).
# Containers are named mdt-bench-proxy-<pid>-... and removed on exit; KEEP=1 leaves them running, and
# REUSE=mdt-bench-proxy-<pid> measures the containers such a run kept (no new containers, no deploy).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-trixie}
rounds=${ROUNDS:-3} tune_rounds=${TUNE_ROUNDS:-2} duration=${DURATION:-15}
connections=${WRK_CONNECTIONS:-50} threads=${WRK_THREADS:-2}
arms=${ARMS:-caddy-no-encode caddy-plain-http caddy-gunicorn-5 caddy-gthread nginx-no-gzip nginx-no-access-log nginx-plain-http nginx-gunicorn-5 nginx-gthread}
domain=mathesar.test
browser_ae='gzip, deflate, br, zstd'
name=${REUSE:-mdt-bench-proxy-$$}
work="$repo/.cache/bench/$name"
logs="$repo/.cache/bench/logs-$name"
sides=(caddy nginx)
checkout=$repo
mkdir -p "$work" "$logs"
cleanup() {
  if [ -z "${KEEP:-}" ] && [ -z "${REUSE:-}" ]; then
    for side in "${sides[@]}"; do docker rm -f "$name-$side" >/dev/null 2>&1 || true; done
  fi
  rm -rf "$work"
  [ "$checkout" = "$repo" ] || git -C "$repo" worktree remove --force "$checkout" 2>/dev/null || true
}
trap cleanup EXIT
if [ -n "${REVISION:-}" ]; then
  checkout="$repo/.cache/bench/$name-checkout"
  git worktree add -q --detach "$checkout" "$REVISION"
fi
. tests/benchmarks/common.sh
bench_prepare "$suite"

echo "proxy throughput: site.yml at $(git -C "$checkout" rev-parse --short HEAD)$( [ "$checkout" != "$repo" ] ||
  git diff --quiet HEAD -- roles playbooks inventories || echo ' with uncommitted changes'), Debian $suite, release $version," \
  "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
if [ -z "${REUSE:-}" ]; then
  bench_start_systemd "" "${sides[@]/#/$name-}"
  export PATH="$repo/.venv/bin:$PATH" ANSIBLE_VAULT_PASSWORD_FILE="$checkout/molecule/resources/test-vault-password"
  export MATHESAR_TEST_ARCHIVE=$archive MATHESAR_TEST_VERSION=$version MATHESAR_TEST_HARDENING=off
  # Test setup, as the scenarios' prepare.yml does it (the host's CA files for PyPI's re-signed TLS, sshd).
  {
    printf -- '---\nmathesar_app:\n  hosts:\n'
    for side in "${sides[@]}"; do printf '    %s:\n      ansible_connection: community.docker.docker\n' "$name-$side"; done
  } > "$work/prepare-hosts.yml"
  (cd "$checkout" && MOLECULE_EPHEMERAL_DIRECTORY="$work" ansible-playbook -i "$work/prepare-hosts.yml" \
    molecule/resources/prepare.yml) > "$logs/prepare.log" 2>&1 || { tail -30 "$logs/prepare.log"; echo "prepare failed (log: $logs/prepare.log)"; exit 1; }
  # One inventory per container, the same-host layout; nginx's gets its own certificate, as a user would give it.
  for side in "${sides[@]}"; do
    mkdir -p "$work/$side/group_vars"
    ln -s "$checkout/inventories/example/group_vars/all" "$work/$side/group_vars/all"
    printf -- '---\nmathesar_app:\n  hosts:\n    %s:\n      ansible_connection: community.docker.docker\nmathesar_db:\n  hosts:\n    %s:\n' \
      "$name-$side" "$name-$side" > "$work/$side/hosts.yml"
    printf -- '---\nreverse_proxy_backend: %s\n' "$side" > "$work/$side/extra.yml"
  done
  python3 "$checkout/tests/testbed/site_pki.py" "$work/nginx/pki" "$domain" >/dev/null  # the venv's python
  cat >> "$work/nginx/extra.yml" <<EOF
reverse_proxy_tls_mode: files
reverse_proxy_tls_cert_file: $work/nginx/pki/fullchain.crt
reverse_proxy_tls_key_file: $work/nginx/pki/site.key
reverse_proxy_tls_ca_file: $work/nginx/pki/root.crt
EOF

  deploy() {  # deploy SIDE
    local side=$1 start
    start=$(date +%s)
    if ! (cd "$checkout" && ansible-playbook -i "$work/$side/hosts.yml" -e "@$work/$side/extra.yml" \
      molecule/same_host/converge.yml) > "$logs/deploy-$side.log" 2>&1; then
      echo "deploy $side: FAILED (log: $logs/deploy-$side.log)"; return 1
    fi
    echo "deploy $side: $(($(date +%s) - start)) s, $(grep -Eo 'ok=[0-9]+ +changed=[0-9]+' "$logs/deploy-$side.log" | tr -s ' ')"
  }
  deploy caddy & a=$!
  deploy nginx & b=$!
  status=0
  wait "$a" || status=1
  wait "$b" || status=1
  [ "$status" = 0 ] || exit 1
fi

# The benchmark's own setup inside each container: wrk, the domain on loopback, the 2.4 MB bundle (in place before
# gunicorn restarts: WhiteNoise indexes the static folder at start-up), and copies of the live configurations that
# the arms change and put back.
static=/opt/mathesar/current/static
bundle=/static/bench/main.0a1b2c3d4e5f.js
for side in "${sides[@]}"; do
  docker exec -i "$name-$side" bash -s -- "$domain" "$static" "$bundle" <<'INNER' > "$logs/setup-$side.log" 2>&1 ||
set -euo pipefail
domain=$1 static=$2 bundle=$3
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
grep -q " $domain\$" /etc/hosts || echo "127.0.0.1 $domain" >> /etc/hosts
file=$static/${bundle#/static/}
mkdir -p "$(dirname "$file")"
src=$(find "$static" -regextype posix-extended -regex '.*\.[0-9a-f]{12}\.js' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
python3 - "$src" "$file" <<'PY'
import base64, gzip, random, sys
src, dst = sys.argv[1:]
lines = open(src, encoding="utf-8").read().splitlines(keepends=True)
rng = random.Random(14)
out, size, i = [], 0, 0
while size < 2_400_000:
    line = lines[i % len(lines)]
    i += 1
    if rng.random() < 0.1:  # the real bundle's entropy: 628 KB gzipped for 2.4 MB
        line = "//" + base64.b64encode(rng.randbytes(max(1, len(line) * 3 // 4))).decode() + "\n"
    out.append(line)
    size += len(line.encode())
data = "".join(out).encode()[:2_400_000]
open(dst, "wb").write(data)
open(dst + ".gz", "wb").write(gzip.compress(data, 9, mtime=0))
PY
chown -R --reference="$src" "$(dirname "$file")"
chmod 0755 "$(dirname "$file")"
chmod --reference="$src" "$file" "$file.gz"
systemctl restart mathesar
# CPU time (clock ticks, user + system) per systemd unit, all threads, with the reaped children's (a PostgreSQL
# backend that ends is counted in the postmaster's): before and after each run.
cat > /root/bench-cpu.py <<'PY'
import collections, os
ticks = collections.Counter()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        cgroup = open(f"/proc/{pid}/cgroup").read()
    except OSError:
        continue
    fields = stat[stat.rindex(")") + 2:].split()
    unit = "other"
    for line in cgroup.splitlines():
        if ":name=systemd:" in line or line.startswith("0::"):
            names = [n for n in line.split("/") if n.endswith(".service")]
            unit = names[-1] if names else "other"
    ticks[unit] += sum(int(f) for f in fields[11:15])
print(" ".join(f"{u}={t}" for u, t in ticks.items()), f"HZ={os.sysconf('SC_CLK_TCK')}")
PY
for f in /etc/caddy/Caddyfile /etc/nginx/conf.d/mathesar.conf /etc/nginx/nginx.conf /opt/mathesar/shared/config/mathesar.env; do
  [ ! -f "$f" ] || [ -f "$f.bench-orig" ] || cp -p "$f" "$f.bench-orig"
done
INNER
  { echo "setup of $side failed (log: $logs/setup-$side.log)"; exit 1; }
done
# gunicorn's address: the socket systemd holds for it (127.0.0.1:<mathesar_app_listen_port>).
port=$(docker exec "$name-caddy" systemctl show -p Listen --value mathesar.socket | sed -n 's/^127\.0\.0\.1:\([0-9]*\) .*/\1/p')
[ -n "$port" ] || { echo "no gunicorn socket on 127.0.0.1 in $name-caddy"; exit 1; }

# The cases: LABEL SIDE URL ACCEPT-ENCODING(browser|identity) HOST-HEADER
cases() {
  local side
  for side in "${sides[@]}"; do
    echo "login-proxy $side https://$domain/auth/login/ browser -"
    echo "login-direct $side http://127.0.0.1:$port/auth/login/ browser $domain"
    echo "static-gzip-proxy $side https://$domain$bundle browser -"
    echo "static-gzip-direct $side http://127.0.0.1:$port$bundle browser $domain"
    echo "static-plain-proxy $side https://$domain$bundle identity -"
    echo "static-plain-direct $side http://127.0.0.1:$port$bundle identity $domain"
  done
}

drain() {  # drain SIDE: until fewer than 2000 sockets wait in TIME_WAIT, at most 60 s
  local i n
  for i in $(seq 1 60); do
    n=$(docker exec "$name-$1" sh -c 'ss -Htan state time-wait | wc -l')
    [ "$n" -lt 2000 ] && [ "$i" -gt 2 ] && return 0
    sleep 1
  done
}

curl_args() {  # curl_args URL AE HOST: the same request as wrk's
  local url=$1 ae=$2 host=$3
  printf '%s\n' -sk -o /dev/null
  [ "$ae" = identity ] || printf '%s\n' -H "Accept-Encoding: $browser_ae"
  [ "$host" = - ] || printf '%s\n' -H "Host: $host"
  printf '%s\n' "$url"
}

check() {  # check SIDE URL AE HOST: status, bytes and encoding of one request (what the run then repeats)
  local c="$name-$1" args
  mapfile -t args < <(curl_args "$2" "$3" "$4")
  docker exec "$c" curl -w '%{http_code} %{size_download} B' -D /tmp/bench-headers "${args[@]}"
  printf ' %s\n' "$(docker exec "$c" sh -c "grep -iE '^(content-encoding|cache-control|connection):' /tmp/bench-headers" |
    tr -d '\r' | tr '\n' ' ')"
}

results="$logs/results.tsv"
: > "$results"
# run ARM ROUND LABEL SIDE URL AE HOST: one wrk run, a line printed and a row in results.tsv
run() {
  local arm=$1 round=$2 label=$3 side=$4 url=$5 ae=$6 host=$7 out before after args=()
  [ "$ae" = identity ] || args+=(-H "Accept-Encoding: $browser_ae")
  [ "$host" = - ] || args+=(-H "Host: $host")
  drain "$side"
  before=$(docker exec "$name-$side" python3 /root/bench-cpu.py)
  out=$(docker exec "$name-$side" bash -c 'wrk "$@"; times' wrk -t"$threads" -c"$connections" -d"${duration}s" \
    --timeout 10s --latency "${args[@]}" "$url" 2>&1) || true
  after=$(docker exec "$name-$side" python3 /root/bench-cpu.py)
  echo "$out" > "$logs/wrk-$arm-$round-$label-$side.txt"
  awk -v arm="$arm" -v round="$round" -v label="$label" -v side="$side" -v before="$before" -v after="$after" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; return v * 1000 }
    function mb(v) { if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v + 0; if (v ~ /KB$/) return v / 1024; return v / 1048576 }
    function secs(v,  m) { m = v; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", v); sub(/s$/, "", v); return m * 60 + v }
    function load(s, a,  n, i, kv, parts) { n = split(s, parts, " "); for (i = 1; i <= n; i++) { split(parts[i], kv, "="); a[kv[1]] = kv[2] } }
    /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { n = $1 }
    /^Transfer\/sec:/ { tps = mb($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    /^[0-9]+m[0-9.]+s [0-9]+m[0-9.]+s$/ { if (++tl == 2) client = secs($1) + secs($2) }
    END {
      load(before, b); load(after, a); hz = a["HZ"]
      for (u in a) if (u != "HZ") {
        d = (a[u] - b[u]) / hz
        if (u ~ /^(caddy|nginx)\.service$/) proxy += d
        else if (u == "mathesar.service") app += d
        else if (u ~ /^postgresql/) db += d
        else if (u == "systemd-journald.service") journal += d
      }
      if (n < 1) n = 1
      printf "%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", arm, round, label, side, rps, tps, p99, bad, err,
        1000 * proxy / n, 1000 * app / n, 1000 * db / n, 1000 * journal / n, 1000 * client / n
    }
' <<< "$out" | tee -a "$results" | awk -F'\t' '{printf "  %-15s %-19s %-5s r%s %7.1f req/s %6.1f MB/s p99 %6.1f ms  CPU ms/request: proxy %.2f app %.2f db %.2f journald %.2f wrk %.2f%s%s\n",
    $1, $3, $4, $2, $5, $6, $7, $10, $11, $12, $13, $14, ($8 ? "  non-2xx " $8 : ""), ($9 ? "  socket errors " $9 : "")}'
}

echo
echo "what each case returns (one request each; the runs repeat it):"
while read -r label side url ae host; do
  printf '  %-20s %-5s %s\n' "$label" "$side" "$(check "$side" "$url" "$ae" "$host")"
done < <(cases)

echo
echo "baseline: $rounds rounds, wrk -t$threads -c$connections -d${duration}s, the cases one at a time, interleaved"
mapfile -t all < <(cases)
# Interleave the two containers: caddy's first case, nginx's first case, ...
half=$((${#all[@]} / 2))
order=()
for i in $(seq 0 $((half - 1))); do order+=("${all[$i]}" "${all[$((i + half))]}"); done
for round in $(seq 1 "$rounds"); do
  list=("${order[@]}")
  if [ $((round % 2)) = 0 ]; then
    list=(); for ((i = ${#order[@]} - 1; i >= 0; i--)); do list+=("${order[$i]}"); done
  fi
  for line in "${list[@]}"; do
    read -r label side url ae host <<< "$line"
    run baseline "$round" "$label" "$side" "$url" "$ae" "$host"
  done
done

# The tuning arms. arm_apply ARM changes the live configuration in the container its name starts with; arm_undo SIDE
# puts back what the deploy wrote (the copies taken at setup) and removes the benchmark's drop-ins. The arms change
# nothing in the role.
arm_undo() {
  docker exec -i "$name-$1" bash -s <<'INNER'
set -e
restart_app= reload_caddy= reload_nginx=
for f in /etc/caddy/Caddyfile /etc/nginx/conf.d/mathesar.conf /etc/nginx/nginx.conf /opt/mathesar/shared/config/mathesar.env; do
  [ -f "$f.bench-orig" ] || continue
  cmp -s "$f" "$f.bench-orig" && continue
  cp -p "$f.bench-orig" "$f"
  case $f in
    /etc/caddy/*) reload_caddy=1 ;;
    /etc/nginx/*) reload_nginx=1 ;;
    /opt/mathesar/*) restart_app=1 ;;
  esac
done
if [ -f /etc/nginx/conf.d/zz-bench.conf ]; then rm /etc/nginx/conf.d/zz-bench.conf; reload_nginx=1; fi
if [ -f /etc/systemd/system/caddy.service.d/zz-bench.conf ]; then
  rm /etc/systemd/system/caddy.service.d/zz-bench.conf && systemctl daemon-reload && systemctl restart caddy
  reload_caddy=
fi
[ -z "$reload_caddy" ] || systemctl reload caddy
[ -z "$reload_nginx" ] || { nginx -t -q && systemctl reload nginx; }
if [ -n "$restart_app" ]; then
  systemctl restart mathesar
  for _ in $(seq 1 30); do curl -s -o /dev/null -H "Host: mathesar.test" "http://127.0.0.1:8000/auth/login/" && break; sleep 1; done
fi
sleep 1
INNER
}
# One line per arm: NAME|what it changes|the cases it is measured on (login, direct, static, http)|the change
# (a shell script run inside the container; caddy_site and nginx_site edit the live site configuration).
arm_table() {
  # shellcheck disable=SC2016  # the scripts run inside the container, where their $ expand
  cat <<'TABLE'
caddy-no-encode|no "encode zstd gzip" (the login page goes out uncompressed)|login|sed -i '/^\tencode zstd gzip$/d' /etc/caddy/Caddyfile && systemctl reload caddy
caddy-encode-gzip|"encode gzip" instead of "encode zstd gzip" (gzip for a browser that offers zstd too)|login|sed -i 's/^\tencode zstd gzip$/\tencode gzip/' /etc/caddy/Caddyfile && systemctl reload caddy
caddy-plain-http|TLS's share: the same site also on plain HTTP (http://mathesar.test:8080)|http|sed -i 's#^mathesar.test {#http://mathesar.test:8080, mathesar.test {#' /etc/caddy/Caddyfile && systemctl reload caddy
caddy-gomaxprocs-1|GOMAXPROCS=1 (Caddy's Go runtime on one core)|login static|mkdir -p /etc/systemd/system/caddy.service.d && printf '[Service]\nEnvironment=GOMAXPROCS=1\n' > /etc/systemd/system/caddy.service.d/zz-bench.conf && systemctl daemon-reload && systemctl restart caddy
caddy-gunicorn-5|5 gunicorn workers, the role's default on 2 cores (the tests set 2)|login direct|sed -i 's/^WEB_CONCURRENCY=.*/WEB_CONCURRENCY="5"/' /opt/mathesar/shared/config/mathesar.env && systemctl restart mathesar
caddy-gthread|gunicorn gthread workers (2 x 4 threads), which keep connections alive|login direct|echo 'GUNICORN_CMD_ARGS="--worker-class gthread --threads 4"' >> /opt/mathesar/shared/config/mathesar.env && systemctl restart mathesar
nginx-no-gzip|gzip off for the app's responses|login|sed -i 's/^\tgzip on;/\tgzip off;/' /etc/nginx/conf.d/mathesar.conf && nginx -t -q && systemctl reload nginx
nginx-no-access-log|access_log off (Debian's nginx.conf logs every request to a file)|login static|sed -i 's#^\s*access_log .*#\taccess_log off;#' /etc/nginx/nginx.conf && nginx -t -q && systemctl reload nginx
nginx-plain-http|TLS's share: the same upstream on plain HTTP (port 8080)|http|printf 'server {\n\tlisten 8080;\n\tserver_name mathesar.test;\n\tgzip on;\n\tgzip_proxied any;\n\tlocation / { proxy_pass http://mathesar_app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }\n\tlocation /static/ { alias /opt/mathesar/current/static/; gzip_static on; }\n}\n' > /etc/nginx/conf.d/zz-bench.conf && nginx -t -q && systemctl reload nginx
nginx-workers-1|worker_processes 1 (Debian's nginx.conf says auto: 2 here)|login static|sed -i 's/^worker_processes .*/worker_processes 1;/' /etc/nginx/nginx.conf && nginx -t -q && systemctl reload nginx
nginx-no-upstream-keepalive|no "keepalive 16" in the upstream|login|sed -i '/^\tkeepalive 16;$/d' /etc/nginx/conf.d/mathesar.conf && nginx -t -q && systemctl reload nginx
nginx-no-buffering|proxy_buffering off|login|sed -i 's/^\t\tproxy_read_timeout 300s;$/&\n\t\tproxy_buffering off;/' /etc/nginx/conf.d/mathesar.conf && nginx -t -q && systemctl reload nginx
nginx-gunicorn-5|5 gunicorn workers, the role's default on 2 cores (the tests set 2)|login direct|sed -i 's/^WEB_CONCURRENCY=.*/WEB_CONCURRENCY="5"/' /opt/mathesar/shared/config/mathesar.env && systemctl restart mathesar
nginx-gthread|gunicorn gthread workers (2 x 4 threads), which keep the upstream connections alive|login direct|echo 'GUNICORN_CMD_ARGS="--worker-class gthread --threads 4"' >> /opt/mathesar/shared/config/mathesar.env && systemctl restart mathesar
TABLE
}
arm_field() { arm_table | awk -F'|' -v arm="$1" -v f="$2" '$1 == arm {print $f; found = 1} END {exit !found}'; }
arm_apply() {
  docker exec "$name-${1%%-*}" bash -c "$(arm_field "$1" 4) && sleep 1 &&
    for _ in \$(seq 1 30); do curl -s -o /dev/null -H 'Host: $domain' http://127.0.0.1:$port/auth/login/ && break; sleep 1; done" ||
    { echo "arm $1: the change failed" >&2; return 1; }
}
case_line() {  # case_line CASE SIDE: a case of the arms' rounds
  case $1 in
    login) echo "login-proxy $2 https://$domain/auth/login/ browser -" ;;
    direct) echo "login-direct $2 http://127.0.0.1:$port/auth/login/ browser $domain" ;;
    static) echo "static-gzip-proxy $2 https://$domain$bundle browser -" ;;
    http) echo "login-proxy-http $2 http://$domain:8080/auth/login/ browser -"
          echo "static-gzip-proxy-http $2 http://$domain:8080$bundle browser -" ;;
  esac
}
if [ "$arms" != none ]; then
  for arm in $arms; do arm_field "$arm" 1 >/dev/null || { echo "unknown arm $arm (see arm_table)"; exit 2; }; done
  echo
  echo "tuning arms ($tune_rounds rounds; 'deployed' is the container's configuration as the role wrote it, measured in the same rounds):"
  for arm in $arms; do printf '  %-28s %s\n' "$arm" "$(arm_field "$arm" 2)"; done
  for round in $(seq 1 "$tune_rounds"); do
    for side in "${sides[@]}"; do
      arm_undo "$side"
      for k in login direct static; do
        while read -r label s url ae host; do run deployed "$round" "$label" "$s" "$url" "$ae" "$host"; done < <(case_line "$k" "$side")
      done
      for arm in $arms; do
        [ "${arm%%-*}" = "$side" ] || continue
        arm_apply "$arm"
        for k in $(arm_field "$arm" 3); do
          while read -r label s url ae host; do run "$arm" "$round" "$label" "$s" "$url" "$ae" "$host"; done < <(case_line "$k" "$side")
        done
        arm_undo "$side"
      done
    done
  done
fi

echo
python3 - "$results" <<'PY'
import collections, statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
groups = collections.defaultdict(list)
for arm, rnd, label, side, rps, tps, p99, bad, err, *cpu in rows:
    groups[(arm, label, side)].append([float(rps), float(tps), float(p99)] + [float(c) for c in cpu] + [int(bad) + int(err)])
med = {k: [statistics.median(v[i] for v in vs) for i in range(8)] for k, vs in groups.items()}
print(f"{'arm':<20} {'case':<19} {'side':<5} {'runs':>4} {'req/s':>7} {'MB/s':>6} {'p99 ms':>7}"
      "  CPU ms/request: proxy app db journald wrk (medians)")
for (arm, label, side), vs in groups.items():
    rps, tps, p99, *cpu = med[(arm, label, side)]
    bad = sum(v[-1] for v in vs)
    print(f"{arm:<20} {label:<19} {side:<5} {len(vs):>4} {rps:>7.1f} {tps:>6.1f} {p99:>7.1f}  " + " ".join(f"{c:.2f}" for c in cpu)
          + (f"  errors {bad}" if bad else ""))
print()
for arm in dict.fromkeys(k[0] for k in groups):
    for side in ("caddy", "nginx"):
        p, d = med.get((arm, "login-proxy", side)), med.get((arm, "login-direct", side))
        if p and d:
            print(f"proxy overhead, login page, {arm}, {side}: {100 * (1 - p[0] / d[0]):.1f} % fewer req/s than gunicorn"
                  f" direct (negative: more); the proxy's CPU {p[3]:.2f} ms a request, {100 * p[3] / sum(p[4:7]):.0f} % on top of the"
                  " app's, PostgreSQL's and journald's")
PY
echo "(logs: $logs)"
[ -z "${KEEP:-}" ] || echo "containers kept: $name-caddy $name-nginx"
