#!/usr/bin/env bash
# `make demo`: a local Debian 13 container plays the VPS; the real same-host playbook provisions it.
#   tests/testbed/demo.sh up     create (or reuse) the container, run the playbook, print URL and login
#   tests/testbed/demo.sh down   remove the container (the demo's secrets in .cache/demo are kept)
# The release is downloaded from GitHub by default; where GitHub is unreachable, name an archive:
#   MATHESAR_RELEASE_ARCHIVE=/path/mathesar.tar.gz make demo
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
name=mathesar-deploy-demo
demo="$repo/.cache/demo"
action=${1:-up}

if [ "$action" = down ]; then
  docker rm -f "$name" >/dev/null 2>&1 || true
  echo "demo: container $name removed"
  exit 0
fi

tests/testbed/docker-engine.sh
image=$(tests/testbed/base-image.sh trixie)
if ! docker inspect "$name" >/dev/null 2>&1; then
  docker run -d --name "$name" --hostname mathesar-demo \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    --stop-signal SIGRTMIN+3 "$image" /lib/systemd/systemd >/dev/null
fi
address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")

# The demo's own vault: random secrets made once and kept, so a second `make demo` changes nothing.
mkdir -p "$demo/inventory/group_vars"
chmod 700 "$demo"
rm -f "$demo/inventory/group_vars/mathesar"  # the link of demos made before the groups were renamed
ln -sfn "$repo/inventories/example/group_vars/all" "$demo/inventory/group_vars/all"
[ -s "$demo/vault-password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$demo/vault-password"
chmod 600 "$demo/vault-password"
export ANSIBLE_VAULT_PASSWORD_FILE="$demo/vault-password"
[ -e "$demo/vault.yml" ] || {
  mkdir -p "$demo/tmp-inv/group_vars/all"
  scripts/create-vault.sh "$demo/tmp-inv" all >/dev/null
  mv "$demo/tmp-inv/group_vars/all/vault.yml" "$demo/vault.yml"
  rm -rf "$demo/tmp-inv"
}
cat > "$demo/inventory/hosts.yml" <<YAML
---
mathesar_app:
  hosts:
    $name:
      ansible_connection: community.docker.docker
mathesar_db:
  hosts:
    $name:
YAML
extra=(-e "mathesar_app_domain=$address" -e reverse_proxy_tls_mode=internal -e "@$demo/vault.yml")
if [ -n "${MATHESAR_RELEASE_ARCHIVE:-}" ]; then
  version=$(tests/testbed/archive-version.sh "$MATHESAR_RELEASE_ARCHIVE")
  extra+=(-e "mathesar_app_release_archive=$MATHESAR_RELEASE_ARCHIVE" -e "mathesar_app_version=$version")
fi
export PATH="$repo/.venv/bin:$PATH"
# Test-machine setup only (the host's extra CA files, if any, for TLS-intercepting networks; sshd and an admin key
# for root, made in the demo folder, as a VPS has: the hardening role insists on a key login).
export MOLECULE_EPHEMERAL_DIRECTORY="$demo"
ansible-playbook -i "$demo/inventory/hosts.yml" molecule/resources/prepare.yml >/dev/null
ansible-playbook -i "$demo/inventory/hosts.yml" playbooks/site.yml "${extra[@]}"
password=$(ansible-vault view "$demo/vault.yml" | sed -n 's/^vault_mathesar_admin_password: //p')
cat <<TXT

Mathesar demo: https://$address/   (Caddy's local CA: your browser will warn; accept to continue)
Login: admin / $password
Remove it with: make demo-destroy
TXT
