#!/usr/bin/env bash
# Build the base images of every Debian suite the scenarios use, at once (debootstrap waits mostly on the mirror
# and the disk). `make test` runs this in the background while the venv, lint and unit tests run; each build is a
# no-op when its image exists (tests/testbed/base-image.sh). Exits non-zero when a build failed; run-scenarios.sh
# then tries that suite again and reports it.
set -uo pipefail
cd "$(dirname "$0")/../.."
tests/testbed/docker-engine.sh || exit 1
pids=()
for suite in trixie bookworm; do
  tests/testbed/base-image.sh "$suite" &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
exit $rc
