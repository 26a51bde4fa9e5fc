#!/usr/bin/env bash
# Make sure a Docker engine answers. Installs Debian's docker.io where missing and starts dockerd in the
# background when nothing answers (a CI machine or a new laptop without a running engine).
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "docker-engine: need root to install ${need[*]}" >&2; exit 1; }
  echo "docker-engine: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker || true
  fi
fi
if ! docker info >/dev/null 2>&1; then
  echo "docker-engine: starting dockerd in the background (log: /var/log/dockerd-testbed.log)"
  nohup dockerd >/var/log/dockerd-testbed.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "docker-engine: ready"; exit 0; }
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; see /var/log/dockerd-testbed.log" >&2
exit 1
