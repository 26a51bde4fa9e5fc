#!/usr/bin/env bash
# Run Molecule scenarios on fresh containers and end with one line: "scenarios: N passed, M failed".
#   tests/testbed/run-scenarios.sh [SCENARIO]        (two lanes at once, logs in .cache/logs/; JOBS=1: one after the
#                                                     other, on the console)
# Each entry of the plan is scenario@suite. The default plan (`make test`) covers each layout once per target:
#   hardening@bookworm       same-host layout, hardened, over real SSH: shared end-to-end suite, idempotence,
#                            hardening checks, Lynis (Debian 12)
#   separate_hosts@trixie    DB host + app host, both hardened, --check --diff (Debian 13)
#   external_db@trixie       app host + a managed PostgreSQL (Debian 13)
#   balancer@trixie          two load balancers (Caddy, nginx) + two app hosts + DB host: spread, stickiness,
#                            firewall, a re-run, a lost app host, a DB restart and an upgrade 0.10 -> 0.11 under
#                            load (Debian 13)
#   day_two@trixie           same-host layout: shared end-to-end suite, --check --diff, then upgrade/rollback,
#                            backup/restore, uninstall (Debian 13)
# With WITH_UNIT=1 (as `make test` calls it) the plan starts with unit@controller: `make unit` in lane 2.
# same_host (same-host layout, hardened, over Docker: the quickest full check while developing) runs when named:
#   tests/testbed/run-scenarios.sh same_host          (SUITES="trixie bookworm" for both; default trixie)
# SUITES also names the suites of hardening. Scenarios: same_host, hardening, separate_hosts, balancer, external_db,
# day_two.
# MATHESAR_RELEASE_ARCHIVE=/path/mathesar.tar.gz deploys a real release instead of the stand-in.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
only=${1:-}
same_host_suites=${SUITES:-trixie}
hardening_suites=${SUITES:-bookworm}

plan=()
if [ "$only" = same_host ]; then
  for suite in $same_host_suites; do plan+=("same_host@$suite"); done
fi
for suite in $hardening_suites; do plan+=("hardening@$suite"); done
plan+=("separate_hosts@trixie" "balancer@trixie" "external_db@trixie" "day_two@trixie")
if [ -n "$only" ]; then
  filtered=()
  for entry in "${plan[@]}"; do [ "${entry%@*}" = "$only" ] && filtered+=("$entry"); done
  [ ${#filtered[@]} -gt 0 ] || { echo "run-scenarios: unknown scenario '$only'" >&2; exit 2; }
  plan=("${filtered[@]}")
fi
# WITH_UNIT=1 (`make test`): the unit and preflight tests (`make unit`, playbook runs on the controller) run first in
# lane 2, beside lane 1's scenarios, instead of before both lanes (counted in when the lanes were chosen).
[ "${WITH_UNIT:-0}" = 1 ] && plan=("unit@controller" "${plan[@]}")

tests/testbed/docker-engine.sh || exit 1
# Leftovers of an interrupted run would hold the test subnets.
tests/testbed/clean-stale.sh
export MOLECULE_RUN_PREFIX="mdt-$(date +%s)-$$"
logs="$repo/.cache/logs/$MOLECULE_RUN_PREFIX"
mkdir -p "$logs"

cleanup() { tests/testbed/clean-stale.sh "$MOLECULE_RUN_PREFIX" >/dev/null 2>&1; }
trap cleanup EXIT INT TERM

# The release archive: the stand-in of the default version (0.11), built from tests/standin, unless a real one is
# named. day_two starts from the previous version (0.10) and upgrades (its molecule.yml takes the _PREVIOUS pair);
# with a real release both are that release (day_two's own tests need the stand-in and skip, loudly).
if [ -n "${MATHESAR_RELEASE_ARCHIVE:-}" ]; then
  export MATHESAR_TEST_ARCHIVE=$MATHESAR_RELEASE_ARCHIVE MATHESAR_TEST_STANDIN=0
  export MATHESAR_TEST_ARCHIVE_PREVIOUS=$MATHESAR_RELEASE_ARCHIVE
else
  export MATHESAR_TEST_ARCHIVE="$repo/.cache/standin/mathesar.tar.gz" MATHESAR_TEST_STANDIN=1
  export MATHESAR_TEST_ARCHIVE_PREVIOUS="$repo/.cache/standin/mathesar-previous.tar.gz"
  tests/standin/build.sh 0.11.0-standin1 "$MATHESAR_TEST_ARCHIVE" >/dev/null || exit 1
  tests/standin/build.sh 0.10.1-standin1 "$MATHESAR_TEST_ARCHIVE_PREVIOUS" >/dev/null || exit 1
fi
MATHESAR_TEST_VERSION=$(tests/testbed/archive-version.sh "$MATHESAR_TEST_ARCHIVE") || exit 1
MATHESAR_TEST_VERSION_PREVIOUS=$(tests/testbed/archive-version.sh "$MATHESAR_TEST_ARCHIVE_PREVIOUS") || exit 1
export MATHESAR_TEST_VERSION MATHESAR_TEST_VERSION_PREVIOUS
echo "run-scenarios: release $MATHESAR_TEST_VERSION from $MATHESAR_TEST_ARCHIVE (stand-in: $MATHESAR_TEST_STANDIN)"

export PATH="$repo/.venv/bin:$PATH" VIRTUAL_ENV="$repo/.venv"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

# Two lanes at once by default; JOBS=1 runs one scenario after the other, with its output on the console. Each
# scenario has a test network of its own (or Docker's default bridge), so any two can run at once; the lanes are
# chosen to take about the same time: separate_hosts and balancer in lane 1, the unit tests and the other scenarios
# in lane 2 (docs/benchmarks.md has each scenario's time in a lane). The two heaviest run one after the other: run at
# the same time, one in each lane, both took longer.
# Measured on the 2-core test bed (2026-12-01, idle otherwise): one playbook run keeps about one core busy (the
# controller, dockerd and the target's module take turns), so two at once share the cores well. Two fresh
# converges of the same-host layout at once took 192 s each (161 s alone); two no-op re-runs 75 s each (60 s alone):
# 1.6-1.7 times the work per minute. (An earlier measurement, 2.1-2.5 times slower per scenario, was taken while
# other scenarios ran on the same machine.)
jobs=${JOBS:-2}
lane_of() {
  [ "$jobs" -le 1 ] && { echo 1; return; }
  case "$1" in separate_hosts|balancer|same_host) echo 1 ;; *) echo 2 ;; esac
}
results="$logs/results"
: > "$results"

# Base images first, one build per suite (two lanes must not debootstrap the same suite at once). external_db's
# bare host is Debian 12 in every suite (MATHESAR_TEST_IMAGE_OLDSTABLE).
declare -A image_of=()
suites=()
for entry in "${plan[@]}"; do
  [ "${entry%@*}" = unit ] && continue
  suites+=("${entry#*@}"); [ "${entry%@*}" = external_db ] && suites+=(bookworm)
done
for suite in "${suites[@]}"; do
  [ -n "${image_of[$suite]:-}" ] && continue
  image_of[$suite]=$(tests/testbed/base-image.sh "$suite") || image_of[$suite]=none
done
export MATHESAR_TEST_IMAGE_OLDSTABLE=${image_of[bookworm]:-none}

run_entry() {
  local entry=$1 scenario=${1%@*} suite=${1#*@} log rc start took
  local -a cmd
  log="$logs/$scenario-$suite.log"
  start=$(date +%s)
  if [ "$scenario" = unit ]; then
    echo "=== unit and preflight tests (lane $(lane_of unit), log: $log)"
    cmd=(make --no-print-directory unit)
  else
    echo "=== $scenario on Debian $suite (lane $(lane_of "$scenario"), log: $log)"
    if [ "${image_of[$suite]}" = none ]; then
      echo "FAILED $entry: base image" >> "$results"; return
    fi
    cmd=(env "MATHESAR_TEST_IMAGE=${image_of[$suite]}" "MATHESAR_TEST_SUITE=$suite"
         molecule test -s "$scenario" --destroy always)
  fi
  if [ "$jobs" -le 1 ]; then
    "${cmd[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  else
    "${cmd[@]}" > "$log" 2>&1
    rc=$?
  fi
  # No secret of the test vault may appear in any output of a scenario's run (the unit tests have no vault).
  if [ "$rc" -eq 0 ] && [ "$scenario" != unit ] && ! python3 tests/testbed/check-no-secrets.py "$log"; then rc=1; fi
  took=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    echo "passed $entry (${took}s)" | tee -a "$results"
    # In lanes the log is not on the console: show pytest's summary (with `=` borders in a scenario's verify, bare
    # under `make unit`'s -q) and each reason for a skip, with its count.
    if [ "$jobs" -gt 1 ]; then
      grep -E '^(=+ .*)?[0-9]+ (passed|failed).* in [0-9.]+s' "$log" | sed "s/^/  $entry: /"
      grep -E '^SKIPPED \[' "$log" | sed -E 's/^SKIPPED \[([0-9]+)\] [^ ]+: /\1 /' \
        | awk '{n=$1; $1=""; c[$0]+=n} END {for (r in c) printf "  %s: %d skipped:%s\n", e, c[r], r}' e="$entry"
    fi
  else
    echo "FAILED $entry (${took}s, log: $log)" | tee -a "$results"
    # In lanes the log is not on the console: first the lines that say why (a long CI output may be cut in the
    # middle), then its end, where Molecule says which step failed.
    if [ "$jobs" -gt 1 ]; then
      echo "--- why, from $log"
      grep -E -m 20 '^\[ERROR\]: |^(fatal|failed): |ERROR!|Error response from daemon|^E   |^FAILED ' "$log" | cut -c1-600
      echo "--- last lines of $log"; tail -n 80 "$log"; echo "---"
    fi
  fi
}

run_lane() {
  local lane=$1 entry
  for entry in "${plan[@]}"; do
    [ "$(lane_of "${entry%@*}")" = "$lane" ] && run_entry "$entry"
  done
}

if [ "$jobs" -le 1 ]; then
  run_lane 1
else
  run_lane 1 &
  lane1=$!
  run_lane 2
  wait "$lane1"
fi
passed=$(grep -c '^passed' "$results")
failed=$(grep -c '^FAILED' "$results")
cat "$results"
echo "scenarios: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -eq "${#plan[@]}" ]
