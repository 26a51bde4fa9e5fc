#!/usr/bin/env bash
# Does a Caddy reload lose requests? (issue 13: draining an app host at the balancer reloads Caddy.) One container
# of the suite's base image with Debian's caddy and two python http.server backends on loopback; Caddy proxies
# https://site.test (its local CA) to both. CLIENTS (8) curl loops against it on the container's loopback for
# SECONDS (60) s while Caddy reloads RELOADS (40) times, between a Caddyfile with both backends and one with the
# first alone (as a drain does). Prints how many requests got each status; 000 is curl's "no answer" (a reset or
# closed connection). Nothing leaves the container. A measurement, not a test. Record its output in
# docs/benchmarks.md.
#   tests/benchmarks/caddy-reload-resets.sh [trixie|bookworm]
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:-trixie}
clients=${CLIENTS:-8} seconds=${SECONDS_LOAD:-60} reloads=${RELOADS:-40}
tests/testbed/docker-engine.sh >/dev/null
image=$(tests/testbed/base-image.sh "$suite")
name="mdt-bench-reload-$$"
trap 'docker rm -f "$name" >/dev/null 2>&1' EXIT
docker run -d --name "$name" "$image" sleep infinity >/dev/null
docker exec "$name" bash -c 'apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq caddy curl python3 >/dev/null 2>&1 && echo "caddy $(caddy version)"'
docker exec -e CLIENTS="$clients" -e LOAD="$seconds" -e RELOADS="$reloads" "$name" bash -c '
set -u
mkdir -p /srv/www /tmp/out && echo ok > /srv/www/index.html
for port in 8001 8002; do (cd /srv/www && python3 -m http.server $port --bind 127.0.0.1 >/dev/null 2>&1 &); done
site() { printf "{\n\tadmin unix//run/caddy-admin.sock\n}\nsite.test {\n\ttls internal\n\treverse_proxy %s {\n\t\tlb_try_duration 10s\n\t}\n}\n" "$1"; }
site "127.0.0.1:8001 127.0.0.1:8002" > /etc/caddy/both.caddy
site "127.0.0.1:8001" > /etc/caddy/one.caddy
cp /etc/caddy/both.caddy /etc/caddy/Caddyfile
HOME=/root caddy start --config /etc/caddy/Caddyfile >/dev/null 2>&1
sleep 3
end=$((SECONDS + LOAD))
for w in $(seq "$CLIENTS"); do
  (while [ $SECONDS -lt $end ]; do
     curl -sk -o /dev/null -w "%{http_code}\n" --max-time 30 --resolve site.test:443:127.0.0.1 https://site.test/
   done > /tmp/out/$w) &
done
pause=$(awk -v s="$LOAD" -v r="$RELOADS" "BEGIN { printf \"%.2f\", s / (r + 1) }")
for i in $(seq "$RELOADS"); do
  sleep "$pause"
  if [ $((i % 2)) = 1 ]; then cp /etc/caddy/one.caddy /etc/caddy/Caddyfile; else cp /etc/caddy/both.caddy /etc/caddy/Caddyfile; fi
  caddy reload --config /etc/caddy/Caddyfile >/dev/null 2>&1 || echo "reload $i failed"
done
wait
echo "reloads: $RELOADS, clients: $CLIENTS, seconds: $LOAD; requests by status:"
cat /tmp/out/* | sort | uniq -c'
