#!/usr/bin/env bash
# Remove the containers and test networks that interrupted scenario runs left behind. A run killed outright (a
# machine restart, SIGKILL) runs neither its trap nor Molecule's destroy, and a left-over test network keeps its
# subnet: the next run's create then fails with "Pool overlaps with other one on this address space" (it did in CI
# on 2026-12-01: hardening and external_db failed in create, 19 s each).
# Each run names its containers and networks mdt-<time>-<pid>-..., where <pid> is its run-scenarios.sh. A run is
# live while that process runs; only the leftovers of runs that are not live are removed, so two checkouts can
# still run their scenarios side by side. Names with another prefix (MOLECULE_RUN_PREFIX=dev by hand) are left
# alone.
# With a run prefix as argument, removes that run's containers and networks whether it is live or not (the exit
# trap of run-scenarios.sh, for its own run).
#   tests/testbed/clean-stale.sh [RUN_PREFIX]
set -uo pipefail
run=${1:-}
live() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q 'run-scenarios'; }
stale() {
  local name=$1 pid
  [ -z "$run" ] || { [[ $name == "$run"-* ]]; return; }
  [[ $name =~ ^mdt-[0-9]+-([0-9]+)- ]] || return 1
  pid=${BASH_REMATCH[1]}
  ! live "$pid"
}
removed=0
# Containers first: a network with containers attached cannot be removed.
for name in $(docker ps -a --format '{{.Names}}' --filter "name=^/${run:-mdt-}"); do
  stale "$name" || continue
  docker rm -f "$name" >/dev/null && { echo "clean-stale: removed container $name"; removed=$((removed + 1)); }
done
for name in $(docker network ls --format '{{.Name}}' --filter "name=^${run:-mdt-}"); do
  stale "$name" || continue
  docker network rm "$name" >/dev/null && { echo "clean-stale: removed network $name"; removed=$((removed + 1)); }
done
[ "$removed" -eq 0 ] || [ -n "$run" ] || echo "clean-stale: $removed leftovers of interrupted runs removed"
