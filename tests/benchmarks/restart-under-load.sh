#!/usr/bin/env bash
# Requests lost while Mathesar restarts: WORKERS curl loops on the app host fetch the login page through the proxy
# for SECONDS_TOTAL seconds, and `systemctl restart mathesar` runs after 3 s. Prints the count of each status code
# (000: no response) and the longest request. Traffic stays on the container's loopback.
#   tests/benchmarks/restart-under-load.sh CONTAINER DOMAIN CA_FILE_ON_CONTAINER [WORKERS] [SECONDS_TOTAL]
# A benchmark, not a test (the shared suite's test_a_restart_drops_no_request asserts the outcome): record its
# output in docs/benchmarks.md.
set -euo pipefail
container=$1 domain=$2 ca=$3 workers=${4:-8} seconds=${5:-20}
docker exec -i "$container" bash -s -- "$domain" "$ca" "$workers" "$seconds" <<'INNER'
set -euo pipefail
domain=$1 ca=$2 workers=$3 seconds=$4
out=$(mktemp -d)
end=$((SECONDS + seconds))
for w in $(seq "$workers"); do
  (while [ "$SECONDS" -lt "$end" ]; do
     curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 30 --cacert "$ca" \
       --resolve "$domain:443:127.0.0.1" "https://$domain/auth/login/" || true
   done > "$out/$w") &
done
sleep 3
before=$(systemctl show -p MainPID --value mathesar)
systemctl restart mathesar
after=$(systemctl show -p MainPID --value mathesar)
wait
echo "gunicorn master: $before -> $after"
cat "$out"/* | awk '{codes[$1]++; if ($2 > max) max = $2} END {for (c in codes) print "status " c ": " codes[c]; print "longest request: " max " s"}'
rm -rf "$out"
INNER
