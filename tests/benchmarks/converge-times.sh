#!/usr/bin/env bash
# Measure playbooks/site.yml on one host (the same-host layout): a fresh converge on a new container, then a no-op re-run, each timed as a
# whole and with Ansible's per-task profile. Ansible reaches the container over real SSH with pipelining (what a
# VPS user gets); CONNECTION=docker measures over `docker exec` instead, as the Molecule scenarios run.
# A benchmark, not a test: record its output in docs/benchmarks.md.
#   tests/benchmarks/converge-times.sh [trixie|bookworm]
# Uses the stand-in release (or MATHESAR_RELEASE_ARCHIVE) and the test vault, like the scenarios.
# COMPARE=<git revision> then re-runs, on the same converged container, this checkout's playbook and that
# revision's in turn (COMPARE_RUNS times each, default 4) and prints each side's no-op times and median: an A/B on
# one container, so that the machine's speed on the day (which varies by 2x here) cancels out. Both revisions must
# converge to the same state (a change that only makes re-runs cheaper), or the first run of each side changes things.
# Mitogen (the opt-in of README, "Faster runs with Mitogen"; the pip package `mitogen` of requirements-dev.txt):
# STRATEGY=mitogen makes every run of the script use its strategy (mitogen_linear), the fresh converge included; run
# it beside a STRATEGY=linear run (the default) for the two fresh converges side by side. MITOGEN=1 re-runs the
# no-op on the same container with the default strategy and with Mitogen's in turn, COMPARE_RUNS times each, and
# prints each side's median.
# The inventory is this checkout's (groups mathesar_app and mathesar_db): revisions before playbooks/site.yml read
# the group mathesar and cannot be compared this way.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-trixie}
name="mdt-bench-$$"
work="$repo/.cache/bench/$name"
logs="$repo/.cache/bench/logs-$name"
mkdir -p "$logs"
# KEEP=1 leaves the container running (e.g. for static-files.sh); remove it with docker rm -f.
trap '[ -n "${KEEP:-}" ] || docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
. tests/benchmarks/common.sh
bench_prepare "$suite"
bench_strategy

docker run -d --name "$name" --hostname mathesar-vps --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined \
  --security-opt apparmor=unconfined --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run \
  --tmpfs /run/lock --stop-signal SIGRTMIN+3 "$image" /lib/systemd/systemd >/dev/null
bench_same_host_inventory "$work/inventory" "$name"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_VAULT_PASSWORD_FILE="$repo/molecule/resources/test-vault-password"
export MATHESAR_TEST_ARCHIVE=$archive MATHESAR_TEST_VERSION=$version
# prepare.yml makes the admin's SSH key in the run's folder (as Molecule's ephemeral folder in the scenarios).
MOLECULE_EPHEMERAL_DIRECTORY="$work" ansible-playbook -i "$work/inventory/hosts.yml" molecule/resources/prepare.yml >/dev/null
if [ "${CONNECTION:-ssh}" = ssh ]; then
  # Test setup: an SSH server and a key for this run, then the inventory points at the container's address.
  ssh-keygen -q -t ed25519 -N '' -f "$work/key"
  docker exec "$name" sh -c 'apt-get install -y -qq openssh-server >/dev/null && mkdir -p /root/.ssh && systemctl start ssh'
  docker exec -i "$name" sh -c 'cat > /root/.ssh/authorized_keys' < "$work/key.pub"
  address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
  printf -- '---\nmathesar_app:\n  hosts:\n    %s:\n      ansible_host: %s\n      ansible_user: root\n      ansible_ssh_private_key_file: %s\n      ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"\nmathesar_db:\n  hosts:\n    %s:\n' \
    "$name" "$address" "$work/key" "$name" > "$work/inventory/hosts.yml"
fi
# Mitogen cannot run the apt module on a host without python3-apt (the module installs it, then restarts itself
# under a new interpreter, which Mitogen does not support): with STRATEGY=mitogen, prepare installs it, as a user must.
if [ "${STRATEGY:-linear}" = mitogen ]; then
  docker exec "$name" sh -c 'apt-get update -qq && apt-get install -y -qq python3-apt >/dev/null'
fi
# The converge must fetch Debian's package lists itself, as on a fresh VPS: forget the ones prepare fetched.
# (apt's cache age is the newer of the update stamp and the lists folder: make both old.)
docker exec "$name" sh -c 'rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp &&
  touch -d "2 days ago" /var/lib/apt/lists'

run() {
  local label=$1 checkout=${2:-$repo} start end
  start=$(date +%s.%N)
  # From the checkout's folder: its ansible.cfg makes that checkout the collection mathesar.deploy.
  if ! (cd "$checkout" && ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=8 \
    ansible-playbook -i "$work/inventory/hosts.yml" molecule/same_host/converge.yml) > "$logs/$label.log" 2>&1; then
    tail -40 "$logs/$label.log"; echo "$label: FAILED (log: $logs/$label.log)"; exit 1
  fi
  end=$(date +%s.%N)
  printf '%s: %.1f s  (%s)\n' "$label" "$(python3 -c "print($end - $start)")" \
    "$(grep -Eo 'ok=[0-9]+ +changed=[0-9]+' "$logs/$label.log" | tr -s ' ')"
  sed -n '/^=====/,$p' "$logs/$label.log" | grep -E ' -+ +[0-9.]+s$' | head -8 | sed 's/^/    /'
}
# The median no-op time of each side, from the lines "noop-<side><n>: <seconds> s ..." of a file.
medians() {
  local file=$1 side
  shift
  for side in "$@"; do
    grep -E "^noop-$side" "$file" | awk '{print $2}' | sort -n \
      | awk -v s="$side" '{t[NR]=$1} END {m=(NR%2)?t[(NR+1)/2]:(t[NR/2]+t[NR/2+1])/2;
          printf "%s: median %.1f s of %d runs (min %.1f, max %.1f)\n", s, m, NR, t[1], t[NR]}'
  done
}
[ "${STRATEGY:-linear}" = mitogen ] && export "${mitogen_env[@]}"
echo "same_host on Debian $suite, release $version, connection ${CONNECTION:-ssh}, $(nproc) cores"
run fresh-converge
run noop-rerun
if [ -n "${COMPARE:-}" ]; then
  other="$repo/.cache/bench/$name-compare"
  git worktree add -q --detach "$other" "$COMPARE"
  trap '[ -n "${KEEP:-}" ] || docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work";
        git -C "$repo" worktree remove --force "$other" 2>/dev/null || true' EXIT
  echo "A/B no-op re-runs on this container: A = this checkout ($(git rev-parse --short HEAD)$(git diff --quiet HEAD \
    || echo ' with uncommitted changes')), B = $COMPARE"
  for i in $(seq 1 "${COMPARE_RUNS:-4}"); do
    for side in A B; do
      run "noop-$side$i" "$([ $side = A ] && echo "$repo" || echo "$other")" > "$logs/run.txt"
      head -1 "$logs/run.txt" | tee -a "$logs/ab.txt"
    done
  done
  medians "$logs/ab.txt" A B
fi
if [ -n "${MITOGEN:-}" ]; then
  echo "A/B no-op re-runs on this container: linear (Ansible's default) and mitogen_linear (${mitogen_env[0]#*=})"
  for i in $(seq 1 "${COMPARE_RUNS:-4}"); do
    (unset ANSIBLE_STRATEGY ANSIBLE_STRATEGY_PLUGINS; run "noop-linear$i") > "$logs/run.txt"
    head -1 "$logs/run.txt" | tee -a "$logs/strategies.txt"
    (export "${mitogen_env[@]}"; run "noop-mitogen$i") > "$logs/run.txt"
    head -1 "$logs/run.txt" | tee -a "$logs/strategies.txt"
  done
  medians "$logs/strategies.txt" linear mitogen
fi
[ -z "${KEEP:-}" ] || echo "container kept: $name"
