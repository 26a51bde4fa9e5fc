#!/usr/bin/env bash
# What each of the hardening role's packages costs to install, on a host that already has what the same-host install
# needs (floor-install.sh's package list: PostgreSQL, pgBackRest, Mathesar's system needs, Caddy). One container gets
# that list and is committed to an image; then, for each concern's packages (as hardening_packages lists them), a fresh
# container from that image installs them: the packages apt adds (the dependencies a concern pulls in), their
# installed size, the download and the installation (dpkg and the maintainer scripts) timed apart. Last, on a
# container with all of them, the two integrity checks the role schedules are timed against the one built into dpkg.
# A benchmark, not a test: record its output in docs/benchmarks.md.
#   tests/benchmarks/hardening-packages.sh [trixie|bookworm]
# Containers are named mdt-bench-pkgs-<pid>-... and removed on exit, with the committed image.
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:-trixie}
name="mdt-bench-pkgs-$$"
committed="mdt-bench-pkgs:$$"
started=()
cleanup() {
  for c in "${started[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  docker rmi -f "$committed" >/dev/null 2>&1 || true
}
trap cleanup EXIT
. tests/benchmarks/common.sh
bench_prepare "$suite"

# The concerns' packages, in roles/hardening/defaults/main.yml's order (hardening_packages).
groups=("openssh-server" "nftables" "fail2ban python3-systemd" "unattended-upgrades needrestart"
        "libpam-pwquality cracklib-runtime libpam-tmpdir" "aide aide-common" "debsums cron" "sudo logrotate"
        "postfix bsd-mailx")

now() { date +%s.%N; }
seconds() { python3 -c "print(f'{$2 - $1:.1f}')"; }
installed_kib() { docker exec "$1" dpkg-query -W -f '${Installed-Size}\n' | awk '{s += $1} END {print s}'; }

started+=("$name-base")
bench_start_systemd "" "$name-base"
read -r -a base_packages <<< "$(docker exec -i "$name-base" bash -s -- --packages off < tests/benchmarks/floor-install.sh)"
docker exec "$name-base" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  ${base_packages[*]} >/dev/null && apt-get clean"
docker commit "$name-base" "$committed" >/dev/null
docker rm -f "$name-base" >/dev/null
image=$committed  # bench_start_systemd starts its containers from `image`

echo "hardening packages on Debian $suite, on top of the same-host install's packages ($(nproc) cores," \
  "$(date -u '+%Y-%m-%d %H:%M UTC'))"
printf '%-48s %4s %9s %9s %9s  %s\n' "concern's packages" new "MiB" "fetch s" "install s" "packages apt adds"
run=0
for group in "${groups[@]}" "${groups[*]}"; do
  run=$((run + 1))
  c="$name-$run"
  started+=("$c")
  bench_start_systemd "--cap-add NET_ADMIN" "$c"
  # shellcheck disable=SC2086  # group is a list of package names
  added=$(docker exec "$c" apt-get install -s -y $group | awk '/^Inst / {print $2}' | sort | tr '\n' ' ')
  before=$(installed_kib "$c")
  t0=$(now)
  docker exec "$c" sh -c "apt-get install -y -qq --download-only $group >/dev/null"
  t1=$(now)
  docker exec "$c" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $group >/dev/null"
  t2=$(now)
  label=$group
  [ "$run" -le "${#groups[@]}" ] || label="all of them"
  printf '%-48s %4s %9s %9s %9s  %s\n' "$label" "$(wc -w <<< "$added")" \
    "$(python3 -c "print(f'{($(installed_kib "$c") - $before) / 1024:.1f}')")" \
    "$(seconds "$t0" "$t1")" "$(seconds "$t1" "$t2")" "$added"
  [ "$run" -le "${#groups[@]}" ] && docker rm -f "$c" >/dev/null
done

# The integrity checks on the last container (every package installed): debsums' weekly check, dpkg's own check of
# the same md5sums, and AIDE's database with the role's sha512 line (the role also leaves out logs, caches and the
# data folders, which this does not).
timed() {  # timed LABEL COMMAND: wall seconds of one run, and its output's line count
  local t0 out
  t0=$(now)
  out=$(docker exec "$c" sh -c "$2" 2>&1 || true)
  printf '%-36s %7s s  %s lines of output\n' "$1" "$(seconds "$t0" "$(now)")" "$(printf '%s' "$out" | grep -c . || true)"
}
echo "integrity checks, once each, on the container with every package"
timed "debsums -cs (the weekly cron check)" "debsums -cs"
timed "dpkg --verify (no package needed)" "dpkg --verify"
timed "aide --init (Checksums = sha512)" \
  "sed -i 's/^Checksums *=.*/Checksums = sha512/' /etc/aide/aide.conf && aide --config /etc/aide/aide.conf --init"
