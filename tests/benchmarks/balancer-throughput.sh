#!/usr/bin/env bash
# Throughput through the load balancer with one and with two app hosts (issue 13), in one run, side by side. The
# balancer scenario's containers (molecule/balancer: a balancer, two app hosts, a DB host; Debian 13 by default)
# are created and converged with its converge, then each app host is held to APP_CPUS (0.5) of a core
# (`docker update --cpus`): the test bed's two cores carry the balancer, wrk, both app hosts and PostgreSQL at
# once, so without a quota the app hosts would only share the same cores and the ratio would say nothing about the
# app tier. Then ROUNDS (3) rounds, the order of the two cases reversed every other round:
#   two:  both app hosts serve;
#   one:  app2's gunicorn and its socket are stopped; the balancer's health check has taken it out (waited for);
# each with Debian's wrk on the balancer against its own site on loopback (nothing leaves the test bed),
# WRK_CONNECTIONS (16) connections, WRK_THREADS (2) threads, DURATION (15) s, for
#   login: GET /auth/login/ (Django and a database round trip for the session; no cookie, so the sticky policy
#          spreads the requests);
#   rpc:   POST /api/rpc/v0/ databases.configured.list as the logged-in admin (the session's cookies without the
#          balancer's own, so that the requests spread).
# Prints one line per run and the medians with the ratio two/one. A benchmark, not a test: nothing fails on a number.
# Record its output in docs/benchmarks.md.
#   tests/benchmarks/balancer-throughput.sh [trixie|bookworm]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
suite=${1:-trixie}
rounds=${ROUNDS:-3} duration=${DURATION:-15} connections=${WRK_CONNECTIONS:-16} threads=${WRK_THREADS:-2}
app_cpus=${APP_CPUS:-0.5}
. tests/benchmarks/common.sh
bench_prepare "$suite"
export MOLECULE_RUN_PREFIX="mdt-bench-lb-$$"
export MATHESAR_TEST_IMAGE=$image MATHESAR_TEST_SUITE=$suite MATHESAR_TEST_ARCHIVE=$archive
export MATHESAR_TEST_VERSION=$version MATHESAR_TEST_STANDIN=1
export PATH="$repo/.venv/bin:$PATH" VIRTUAL_ENV="$repo/.venv"
results=$(mktemp)
cleanup() { molecule destroy -s balancer >/dev/null 2>&1 || true; rm -f "$results"; }
trap cleanup EXIT
tests/testbed/clean-stale.sh >/dev/null
molecule create -s balancer >/dev/null
molecule prepare -s balancer >/dev/null
molecule converge -s balancer > "$repo/.cache/logs/bench-balancer-converge.log" 2>&1
lb="$MOLECULE_RUN_PREFIX-bal-lb" app1="$MOLECULE_RUN_PREFIX-bal-app1" app2="$MOLECULE_RUN_PREFIX-bal-app2"
docker update --cpus "$app_cpus" "$app1" "$app2" >/dev/null
domain=mathesar.test
ca=/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt
password=$(.venv/bin/ansible-vault view --vault-password-file molecule/resources/test-vault-password \
  molecule/resources/vars/test-vault.yml |
  .venv/bin/python -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["vault_mathesar_admin_password"])')

# On the balancer: wrk, the site's name on loopback and its CA in the trust store (wrk checks nothing, curl does),
# the admin's session cookies, and the RPC request as a wrk script.
docker exec -i "$lb" bash -s -- "$domain" "$ca" "$password" <<'SETUP'
set -euo pipefail
domain=$1 ca=$2 password=$3
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
grep -q " $domain\$" /etc/hosts || echo "127.0.0.1 $domain" >> /etc/hosts
jar=/root/bench-cookies
rm -f "$jar"
curl -sS -o /dev/null --cacert "$ca" -c "$jar" "https://$domain/auth/login/"
csrf=$(awk '$6 == "csrftoken" {print $7}' "$jar")
curl -sS -o /dev/null --cacert "$ca" -b "$jar" -c "$jar" -H "X-CSRFToken: $csrf" -H "Referer: https://$domain/auth/login/" \
  --data-urlencode username=admin --data-urlencode "password=$password" "https://$domain/auth/login/"
csrf=$(awk '$6 == "csrftoken" {print $7}' "$jar")
session=$(awk '$6 == "sessionid" {print $7}' "$jar")
[ -n "$session" ] || { echo "bench: the admin login failed" >&2; exit 1; }
cat > /root/bench-rpc.lua <<LUA
wrk.method = "POST"
wrk.body = '{"jsonrpc": "2.0", "id": 1, "method": "databases.configured.list", "params": {}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "csrftoken=$csrf; sessionid=$session"
wrk.headers["X-CSRFToken"] = "$csrf"
wrk.headers["Referer"] = "https://$domain/"
LUA
SETUP

# Wait until the balancer sends requests to app2 (want=up) or no longer does (want=down): its active health check
# runs every 5 s.
app2_served() {
  local marker=$1
  docker exec "$lb" curl -s -o /dev/null --cacert "$ca" "https://$domain/auth/login/?$marker" || true
  docker exec "$app2" journalctl -u mathesar --no-pager -n 200 -o cat | grep -c "$marker" || true
}
set_case() {
  local case=$1 n
  if [ "$case" = two ]; then
    docker exec "$app2" systemctl start mathesar.socket mathesar
    for n in $(seq 60); do [ "$(app2_served "up-$$-$n-$RANDOM")" -gt 0 ] && return; sleep 1; done
    echo "bench: app2 did not come back into the balancer" >&2; exit 1
  else
    docker exec "$app2" systemctl stop mathesar.socket mathesar
    sleep 12
  fi
}

run() {  # run ROUND CASE LOAD
  local round=$1 case=$2 load=$3 out
  if [ "$load" = login ]; then
    out=$(docker exec "$lb" wrk -t"$threads" -c"$connections" -d"${duration}s" "https://$domain/auth/login/")
  else
    out=$(docker exec "$lb" wrk -t"$threads" -c"$connections" -d"${duration}s" -s /root/bench-rpc.lua \
      "https://$domain/api/rpc/v0/")
  fi
  awk -v r="$round" -v c="$case" -v l="$load" '
    /Requests\/sec/ {rps = $2}
    /Non-2xx/ {bad = $NF}
    /Socket errors/ {err = $0}
    END {printf "%s\t%s\t%s\t%.1f\t%s\t%s\n", l, c, r, rps, bad + 0, err}' <<< "$out" | tee -a "$results" |
    awk -F'\t' '{printf "  %-5s %-3s r%s %7.1f req/s  non-2xx %s %s\n", $1, $2, $3, $4, $5, $6}'
}

echo "balancer throughput: $rounds rounds, wrk -t$threads -c$connections -d${duration}s, app hosts at $app_cpus CPU each"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="two one"; else order="one two"; fi
  for case in $order; do
    set_case "$case"
    for load in login rpc; do run "$round" "$case" "$load"; done
  done
done
set_case two
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo "medians (req/s) and the ratio two/one:"
for load in login rpc; do
  one=$(awk -F'\t' -v l="$load" '$1 == l && $2 == "one" {print $4}' "$results" | median)
  two=$(awk -F'\t' -v l="$load" '$1 == l && $2 == "two" {print $4}' "$results" | median)
  awk -v l="$load" -v o="$one" -v t="$two" 'BEGIN {printf "  %-5s one %7.1f  two %7.1f  ratio %.2f\n", l, o, t, t / o}'
done
