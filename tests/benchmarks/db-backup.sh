#!/usr/bin/env bash
# Measure the database host's pgBackRest backups on the separate-hosts layout with a backup host (three new
# containers, hardening off): the time and repository size of a full backup of a cluster of about SCALE x 15 MB
# (pgbench tables; SCALE=68 is about 1 GB), into repo1 (on the DB host) and repo2 (on the backup host); the data lost
# when the DB host dies suddenly under a steady trickle of writes (RPO: the newest row restored vs the last row
# committed); and the time to rebuild the DB host on a new, empty container from the backup host (RTO:
# restore_database.yml as a whole, and pgBackRest's restore alone).
# A benchmark, not a test: record its output in docs/benchmarks.md.
#   tests/benchmarks/db-backup.sh            (SCALE=68 WRITE_SECONDS=150 by default; bounded: about 20 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
scale=${SCALE:-68}
write_seconds=${WRITE_SECONDS:-150}
prefix="mdt-bench-db-$$"
net="$prefix-net"
work="$repo/.cache/bench/$prefix"
mkdir -p "$work/inventory/group_vars"
cleanup() {
  docker rm -f "$prefix-app" "$prefix-db" "$prefix-backup" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
. tests/benchmarks/common.sh
bench_prepare trixie
export MATHESAR_TEST_ARCHIVE=$archive MATHESAR_TEST_VERSION=$version
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_VAULT_PASSWORD_FILE="$repo/molecule/resources/test-vault-password"
export ANSIBLE_COLLECTIONS_PATH="$repo/.collections" MATHESAR_TEST_HARDENING=off ANSIBLE_FORCE_COLOR=0

docker network create --subnet 172.30.95.0/24 "$net" >/dev/null
start() {  # name address
  docker run -d --name "$prefix-$1" --hostname "$1" --network "$net" --ip "$2" --cap-add SYS_ADMIN \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v "$repo/.cache/pip:/root/.cache/pip:rw" --tmpfs /run --tmpfs /run/lock \
    --stop-signal SIGRTMIN+3 "$image" /lib/systemd/systemd >/dev/null
}
start app 172.30.95.11; start db 172.30.95.10; start backup 172.30.95.13
ln -s "$repo/inventories/example/group_vars/all" "$work/inventory/group_vars/all"
cat > "$work/inventory/hosts.yml" <<YAML
---
all:
  vars:
    ansible_connection: community.docker.docker
mathesar_app:
  hosts:
    $prefix-app: {mathesar_private_address: 172.30.95.11}
mathesar_db:
  hosts:
    $prefix-db: {mathesar_private_address: 172.30.95.10}
mathesar_backup:
  hosts:
    $prefix-backup: {mathesar_private_address: 172.30.95.13}
YAML
# The scenarios' wrapper playbooks load the test overrides and vault; they read the test network by scenario name,
# which this inventory replaces, so the wrappers get a copy of test-overrides and the vault only.
for pb in site restore_database; do
  cat > "$work/$pb.yml" <<YAML
---
- name: Test variables
  hosts: all
  gather_facts: false
  tasks:
    - name: Load the overrides and the test vault
      ansible.builtin.include_vars:
        file: "$repo/molecule/resources/vars/{{ item }}"
      loop: [test-overrides.yml, test-vault.yml]
- name: The real playbook
  ansible.builtin.import_playbook: $repo/playbooks/$pb.yml
YAML
done
playbook() { ansible-playbook -i "$work/inventory/hosts.yml" "$@"; }
seconds() { python3 -c "import time; print(f'{time.monotonic():.1f}')"; }
pg() { docker exec "$prefix-db" runuser -u postgres -- psql -XAtq "$@"; }

MOLECULE_EPHEMERAL_DIRECTORY="$work" playbook "$repo/molecule/resources/prepare.yml" > "$work/prepare.log"
playbook "$work/site.yml" > "$work/site.log" || { tail -40 "$work/site.log"; exit 1; }
echo "db-backup: deployed (app, db, backup on trixie); generating data (pgbench scale $scale)"
docker exec "$prefix-db" runuser -u postgres -- createdb bench
t0=$(seconds); docker exec "$prefix-db" runuser -u postgres -- pgbench -q -i -s "$scale" bench >/dev/null 2>&1; t1=$(seconds)
size=$(pg -c "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database")
echo "db-backup: cluster size $size (generated in $(python3 -c "print(round($t1-$t0))") s)"

for side in db backup; do
  t0=$(seconds); docker exec "$prefix-$side" systemctl start pgbackrest-backup@full.service; t1=$(seconds)
  repo_key=$([ $side = db ] && echo 1 || echo 2)
  stored=$(docker exec "$prefix-$side" runuser -u postgres -- pgbackrest --stanza=mathesar --repo="$repo_key" \
    --log-level-console=off info --output=json | python3 -c "
import json, sys; b = json.loads(sys.stdin.read(), strict=False)[0]['backup'][-1]
print(f\"{b['info']['repository']['delta'] / 2**20:.0f} MB stored for {b['info']['size'] / 2**20:.0f} MB\")")
  echo "db-backup: full backup into repo$repo_key ($side host): $(python3 -c "print(round($t1-$t0))") s, $stored"
done

# RPO: a row a second (each its own transaction, as a quiet Mathesar would write), then the DB host dies at once.
pg -d bench -c "CREATE TABLE trickle (at timestamptz DEFAULT clock_timestamp())"
docker exec -d "$prefix-db" runuser -u postgres -- bash -c \
  "for i in \$(seq $write_seconds); do psql -XAtq -d bench -c 'INSERT INTO trickle DEFAULT VALUES'; sleep 1; done"
sleep "$write_seconds"
last=$(pg -d bench -c "SELECT extract(epoch FROM max(at)) FROM trickle")
docker kill "$prefix-db" >/dev/null
docker rm "$prefix-db" >/dev/null
echo "db-backup: DB host killed; last committed row at $(date -u -d "@${last%.*}" +%T)"
start db 172.30.95.10
MOLECULE_EPHEMERAL_DIRECTORY="$work" playbook "$repo/molecule/resources/prepare.yml" --limit "$prefix-db" > "$work/prepare2.log"
t0=$(seconds); playbook -v "$work/restore_database.yml" > "$work/restore.log" || { tail -40 "$work/restore.log"; exit 1; }; t1=$(seconds)
restored=$(pg -d bench -c "SELECT extract(epoch FROM max(at)) FROM trickle")
pgbr=$(grep -o 'restore command end: completed successfully ([0-9]*ms)' "$work/restore.log" | grep -o '[0-9]*ms' || true)
echo "db-backup: RTO: restore_database.yml onto a new container $(python3 -c "print(round($t1-$t0))") s (pgBackRest's restore alone: ${pgbr:-not logged})"
echo "db-backup: RPO: $(python3 -c "print(round($last - $restored, 1))") s of writes lost (newest restored row vs last committed; archive_timeout 60 s)"
