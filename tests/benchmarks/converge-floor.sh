#!/usr/bin/env bash
# The playbook against the floor: playbooks/site.yml on one host (the same-host layout, the same_host scenario's
# converge: example inventory, test overrides, test vault, stand-in release) against tests/benchmarks/floor-install.sh,
# a plain shell script that makes the same install with no checks. Four fresh sibling containers from the same base
# image, prepared alike (the host's CA files, sshd and the admin's key, package lists forgotten), then two comparisons:
#   off: the playbook with mathesar_hardening_enabled false   against the floor script
#   on:  the playbook with hardening (the default)            against the floor script plus the hardening role's
#        packages and its AIDE database
# and last the playbook's no-op re-run on the hardened container. Prints each run's seconds, where the time went
# (the playbook's slowest tasks from profile_tasks, the floor's steps) and a table: side, seconds, ratio to the floor.
# A benchmark, not a test: record its output in docs/benchmarks.md.
#   tests/benchmarks/converge-floor.sh [trixie|bookworm]
# Both sides reach their container the same way, through `docker exec` (the playbook with the connection `docker`,
# the floor script with one `docker exec`), and both start with a cold pip cache (new containers, nothing shared).
# PAIR=parallel (the default) runs the two sides of a comparison at the same time, so that both see the machine of
# the same minutes (its speed varies by up to 2x within the hour here). Each side then has about one of the two
# cores; the side that finishes first leaves the machine to the other, which favours the slower side (the playbook),
# so the ratio is if anything understated. PAIR=alternate runs them one after the other (playbook first for "off",
# floor first for "on"): no sharing, but exposed to the machine's drift between the runs.
# FLOOR_INSTALLER=pip makes the floor build the release venv with pip instead of uv (the playbook's default).
# STRATEGY=mitogen runs the playbook under Mitogen's strategy (README, "Faster runs with Mitogen"); all four containers
# then get python3-apt first, which a host needs under Mitogen (the floor's containers too, so both sides start alike).
# REVISION=<git revision> runs that revision's playbook (from a detached worktree, removed on exit) instead of the
# working tree's: a fixed revision while the working tree is being edited.
# Containers are named mdt-bench-floor-<pid>-... and removed on exit; KEEP=1 leaves them running.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-trixie}
pair=${PAIR:-parallel}
case "$pair" in parallel|alternate) ;; *) echo "converge-floor: PAIR must be parallel or alternate" >&2; exit 2;; esac
name="mdt-bench-floor-$$"
work="$repo/.cache/bench/$name"
logs="$repo/.cache/bench/logs-$name"
containers=("$name-pb-off" "$name-floor-off" "$name-pb-on" "$name-floor-on")
checkout=$repo
mkdir -p "$work" "$logs"
cleanup() {
  if [ -z "${KEEP:-}" ]; then
    for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
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
bench_strategy

bench_start_systemd "--cap-add NET_ADMIN" "${containers[@]}"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_VAULT_PASSWORD_FILE="$checkout/molecule/resources/test-vault-password"
export MATHESAR_TEST_ARCHIVE=$archive MATHESAR_TEST_VERSION=$version
# Test setup on all four alike (the scenarios' prepare.yml: the host's CA files for PyPI's re-signed TLS, sshd and
# the admin's key, which the hardening role's preflight insists on).
{
  printf -- '---\nmathesar_app:\n  hosts:\n'
  for c in "${containers[@]}"; do printf '    %s:\n      ansible_connection: docker\n' "$c"; done
} > "$work/prepare-hosts.yml"
(cd "$checkout" && MOLECULE_EPHEMERAL_DIRECTORY="$work" ansible-playbook -i "$work/prepare-hosts.yml" \
  molecule/resources/prepare.yml) > "$logs/prepare.log" 2>&1 || { tail -30 "$logs/prepare.log"; echo "prepare failed (log: $logs/prepare.log)"; exit 1; }
if [ "${STRATEGY:-linear}" = mitogen ]; then
  for c in "${containers[@]}"; do docker exec -e DEBIAN_FRONTEND=noninteractive "$c" sh -c 'apt-get update -qq && apt-get install -y -qq python3-apt >/dev/null'; done
fi
# Each install must fetch Debian's package lists itself, as on a fresh VPS: forget the ones prepare fetched.
for c in "${containers[@]}"; do
  docker exec "$c" sh -c 'rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp &&
    touch -d "2 days ago" /var/lib/apt/lists'
done
# One inventory per playbook container: the same-host layout (the host in both groups).
for side in off on; do
  bench_same_host_inventory "$work/pb-$side" "$name-pb-$side" "$checkout"
done

now() { date +%s.%N; }
seconds() { python3 -c "print(f'{$2 - $1:.1f}')"; }

# playbook LABEL off|on: site.yml on the container pb-<off|on>, with the per-task profile.
playbook() {
  local label=$1 hardening=$2 start
  start=$(now)
  # From the checkout's folder: its ansible.cfg makes that checkout the collection mathesar.deploy.
  if ! (cd "$checkout" && { [ "${STRATEGY:-linear}" = linear ] || export "${mitogen_env[@]}"; } &&
    MATHESAR_TEST_HARDENING=$hardening ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks \
    PROFILE_TASKS_TASK_OUTPUT_LIMIT=10 ansible-playbook -i "$work/pb-$hardening/hosts.yml" \
    molecule/same_host/converge.yml) > "$logs/$label.log" 2>&1; then
    echo "$label: FAILED (log: $logs/$label.log)"; return 1
  fi
  seconds "$start" "$(now)" > "$logs/$label.time"
}

# floor LABEL off|on: the archive and the script copied in, then the script, on the container floor-<off|on>.
floor() {
  local label=$1 hardening=$2 c="$name-floor-$2" start
  start=$(now)
  if ! { docker cp -q "$archive" "$c:/root/mathesar.tar.gz" &&
    docker cp -q tests/benchmarks/floor-install.sh "$c:/root/floor-install.sh" &&
    docker exec -e "FLOOR_INSTALLER=${FLOOR_INSTALLER:-uv}" "$c" bash /root/floor-install.sh /root/mathesar.tar.gz "$version" "$hardening"; } \
    > "$logs/$label.log" 2>&1; then
    echo "$label: FAILED (log: $logs/$label.log)"; return 1
  fi
  seconds "$start" "$(now)" > "$logs/$label.time"
}

# compare off|on: the playbook and the floor, at the same time or one after the other.
compare() {
  local hardening=$1 a b rc=0
  if [ "$pair" = parallel ]; then
    playbook "playbook-$hardening" "$hardening" & a=$!
    floor "floor-$hardening" "$hardening" & b=$!
    wait "$a" || rc=1
    wait "$b" || rc=1
    return "$rc"
  elif [ "$hardening" = off ]; then
    playbook "playbook-$hardening" "$hardening" && floor "floor-$hardening" "$hardening"
  else
    floor "floor-$hardening" "$hardening" && playbook "playbook-$hardening" "$hardening"
  fi
}

report() {  # report LABEL: its seconds and where they went
  local label=$1
  if [ "${label%%-*}" = floor ]; then
    printf '%s: %s s  (%s)\n' "$label" "$(cat "$logs/$label.time")" \
      "$(awk '/^floor-step/ {printf "%s%s %s s", sep, $2, $3; sep=", "}' "$logs/$label.log")"
  else
    printf '%s: %s s  (%s)\n' "$label" "$(cat "$logs/$label.time")" \
      "$(grep -Eo 'ok=[0-9]+ +changed=[0-9]+' "$logs/$label.log" | tr -s ' ')"
    sed -n '/^=====/,$p' "$logs/$label.log" | grep -E ' -+ +[0-9.]+s$' | head -10 | sed 's/^/    /'
  fi
}

echo "same-host playbook ($(git -C "$checkout" rev-parse --short HEAD)$( [ "$checkout" != "$repo" ] || git diff --quiet HEAD \
  || echo ' with uncommitted changes')) against the floor script, Debian $suite, release $version, connection docker exec," \
  "strategy ${STRATEGY:-linear}, pairs $pair, cold pip cache, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
status=0
compare off || status=1
compare on || status=1
[ "$status" = 0 ] && { playbook noop-rerun-on on || status=1; }
for label in playbook-off floor-off playbook-on floor-on noop-rerun-on; do
  [ -s "$logs/$label.time" ] && report "$label"
done
[ "$status" = 0 ] || { echo "a run failed: see the logs in $logs"; exit 1; }
echo
printf '%-24s %9s %8s\n' side seconds ratio
for row in "playbook-off floor-off" "floor-off floor-off" "playbook-on floor-on" "floor-on floor-on" \
  "noop-rerun-on floor-on"; do
  read -r side base <<< "$row"
  printf '%-24s %9s %7sx\n' "$side" "$(cat "$logs/$side.time")" \
    "$(python3 -c "print(f'{$(cat "$logs/$side.time") / $(cat "$logs/$base.time"):.2f}')")"
done
echo "(ratio: to the floor of the same comparison; the no-op re-run's to the hardened floor; logs: $logs)"
[ -z "${KEEP:-}" ] || echo "containers kept: ${containers[*]}"
