# shellcheck shell=bash disable=SC2034  # sourced: the variables are the callers'
# Sourced by the benchmark scripts, from the repository's root: starts Docker, makes the venv, and sets `image` (the
# base image of the suite given) and `archive` and `version` (the stand-in release, or MATHESAR_RELEASE_ARCHIVE).
bench_prepare() {
  tests/testbed/docker-engine.sh >/dev/null
  tests/testbed/venv.sh
  image=$(tests/testbed/base-image.sh "$1")
  archive=${MATHESAR_RELEASE_ARCHIVE:-$(pwd)/.cache/standin/mathesar.tar.gz}
  [ -n "${MATHESAR_RELEASE_ARCHIVE:-}" ] || tests/standin/build.sh 0.10.1-standin1 "$archive" >/dev/null
  version=$(tests/testbed/archive-version.sh "$archive")
}
