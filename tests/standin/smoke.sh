#!/usr/bin/env bash
# Manual smoke walk-through of a running Mathesar (TEST DOUBLE or real) with curl.
# For humans, not CI.
#
#   smoke.sh BASE_URL USERNAME PASSWORD
#
# BASE_URL is what curl connects to, e.g. https://mathesar.example.test (via
# the proxy) or http://127.0.0.1:8000 (gunicorn directly). Environment:
#   SMOKE_HOST=name        Host header to send (default: BASE_URL's host)
#   SMOKE_FORWARDED_PROTO=https  add X-Forwarded-Proto, as the proxy would,
#                          when talking to gunicorn directly
#   SMOKE_INSECURE=1       curl -k (self-signed test certificates)
#   SMOKE_CREATE_DB=1      also create a database on Mathesar's PostgreSQL
#                          (databases.setup.create_new; its role needs CREATEDB),
#                          import the uploaded CSV there and list the rows. The
#                          database smoke_import_<epoch> is left behind.
# The superuser must exist; before it does, only the redirects are checked.
# standin.* RPC methods exist only in the test double: with a real archive
# those checks are SKIPPED (and say so).
set -uo pipefail

[[ $# -eq 3 ]] || { sed -n '2,19p' "$0" >&2; exit 2; }
base="${1%/}" user="$2" pass="$3"
host="${SMOKE_HOST:-$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).netloc)' "${base}")}"
scheme="${base%%://*}"
[[ -n "${SMOKE_FORWARDED_PROTO:-}" ]] && scheme="${SMOKE_FORWARDED_PROTO}"
origin="${scheme}://${host}"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
jar="${work}/cookies"
curl_opts=(-s)
[[ -n "${SMOKE_FORWARDED_PROTO:-}" ]] && curl_opts+=(-H "X-Forwarded-Proto: ${SMOKE_FORWARDED_PROTO}")
[[ -n "${SMOKE_INSECURE:-}" ]] && curl_opts+=(-k)

passed=0 failed=0 skipped=0
ok()   { echo "PASS  $1"; passed=$((passed + 1)); }
bad()  { echo "FAIL  $1${2:+ -- $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP  $1 (stand-in only; not available in this archive)"; skipped=$((skipped + 1)); }
check() { local name="$1"; shift; if "$@"; then ok "${name}"; else bad "${name}" "${detail:-}"; fi; }

# req OUT_PREFIX CURL_ARGS... -> ${OUT}.code, ${OUT}.headers, ${OUT}.body
# (sends Host: $host unless REQ_HOST overrides it)
req() {
  local out="${work}/$1"; shift
  curl "${curl_opts[@]}" -H "Host: ${REQ_HOST:-${host}}" -D "${out}.headers" -o "${out}.body" -w '%{http_code}' "$@" > "${out}.code"
}
code() { cat "${work}/$1.code"; }
header() { grep -i "^$2:" "${work}/$1.headers" | cut -d' ' -f2- | tr -d '\r'; }
body_has() { grep -q -- "$2" "${work}/$1.body"; }
csrf() { awk '$6 == "csrftoken" {print $7}' "${jar}" | tail -1; }
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "${work}/$1.body" "$2" 2>/dev/null; }

# ---- before login -----------------------------------------------------------
req root "${base}/"
detail="got $(code root) $(header root location)"
check "GET / redirects to /auth/login/" test "$(code root)" = 302 -a -n "$(header root location | grep '/auth/login/')"

req login_get -c "${jar}" -b "${jar}" "${base}/auth/login/"
if [[ "$(code login_get)" == 302 ]]; then
  detail="$(header login_get location)"
  check "GET /auth/login/ without superuser redirects to /complete_installation/" \
    test -n "$(header login_get location | grep '/complete_installation/')"
  req welcome "${base}/complete_installation/"
  check "/complete_installation/ says Welcome to Mathesar!" body_has welcome "Welcome to Mathesar!"
  echo "No superuser yet: create one (manage.py createsuperuser --noinput) and run again."
  echo "${passed} passed, ${failed} failed"
  exit 3
fi
detail="got $(code login_get)"
check "GET /auth/login/ is 200" test "$(code login_get)" = 200
check "login page mentions Mathesar" body_has login_get "Mathesar"
detail="no csrftoken cookie"
check "login page sets csrftoken" test -n "$(csrf)"

# ---- login --------------------------------------------------------------------
login() { # login OUT USER PASS [extra curl args]
  local out="$1" u="$2" p="$3"; shift 3
  req "${out}" -c "${jar}" -b "${jar}" -H "X-CSRFToken: $(csrf)" -H "Referer: ${origin}/auth/login/" \
    --data-urlencode "username=${u}" --data-urlencode "password=${p}" "$@" "${base}/auth/login/"
}
login bad_login "${user}" "wrong-${pass}"
detail="got $(code bad_login)"
check "bad credentials: 200 with the form again" test "$(code bad_login)" = 200
check "bad credentials: no sessionid" test -z "$(header bad_login set-cookie | grep sessionid)"

login foreign "${user}" "${pass}" -H "Origin: https://evil.example"
detail="got $(code foreign)"
check "login POST with foreign Origin is 403 (CSRF)" test "$(code foreign)" = 403

login good_login "${user}" "${pass}" -H "Origin: ${origin}"
detail="got $(code good_login)"
check "good credentials: 302" test "$(code good_login)" = 302
check "good credentials: sessionid cookie" grep -q sessionid "${jar}"

req home -b "${jar}" "${base}/"
detail="got $(code home)"
check "GET / when logged in is 200" test "$(code home)" = 200
# The app page loads the hashed bundle; the login page (a plain Django template) does not.
bundle="$(grep -o '/static/[^"]*\.[0-9a-f]\{12\}\.js' "${work}/home.body" | head -1)"

# ---- JSON-RPC -----------------------------------------------------------------
rpc() { # rpc OUT METHOD PARAMS_JSON [extra curl args]
  local out="$1" method="$2" params="$3"; shift 3
  req "${out}" -H 'Content-Type: application/json' \
    --data "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"${method}\", \"params\": ${params}}" \
    "$@" "${base}/api/rpc/v0/"
}
session=(-b "${jar}" -H "X-CSRFToken: $(csrf)" -H "Referer: ${origin}/" -H "Origin: ${origin}")
basic=(-u "${user}:${pass}")
is_not_found() { [[ "$(json "$1" "d.get('error', {}).get('code')")" == -32601 ]]; }

rpc anon databases.configured.list '{}'
detail="got $(code anon) $(cat "${work}/anon.body")"
check "RPC unauthenticated: HTTP 200 with error" test "$(code anon)" = 200 -a "$(json anon "'error' in d")" = True

rpc nocsrf databases.configured.list '{}' -b "${jar}"
detail="got $(code nocsrf)"
check "RPC with session but no CSRF token is 403" test "$(code nocsrf)" = 403

rpc connect databases.setup.connect_existing \
  '{"host": "localhost", "port": 5432, "database": "smoke_db", "role": "smoke_role", "password": "s3cret pw"}' "${session[@]}"
detail="$(cat "${work}/connect.body")"
check "RPC databases.setup.connect_existing (session)" test "$(json connect "d['result']['database']['name']")" = smoke_db

rpc list databases.configured.list '{}' "${basic[@]}"
detail="$(cat "${work}/list.body")"
check "RPC databases.configured.list (Basic) lists smoke_db" \
  test "$(json list "'smoke_db' in [x['name'] for x in d['result']]")" = True

rpc pw standin.roles.check_passwords '{}' "${basic[@]}"
if is_not_found pw; then skip "standin.roles.check_passwords"; else
  detail="$(cat "${work}/pw.body")"
  check "RPC standin.roles.check_passwords decrypts all" test "$(json pw "d['result']['count'] >= 1")" = True
fi

marker="smoke $(date +%s) ' \" \$ \\ # ;"
rpc add standin.records.add "$(python3 -c 'import json, sys; print(json.dumps({"text": sys.argv[1]}))' "${marker}")" "${session[@]}"
if is_not_found add; then skip "standin.records.add / list"; else
  rpc recs standin.records.list '{}' "${basic[@]}"
  detail="$(cat "${work}/recs.body")"
  check "RPC standin.records.add then list returns the text" \
    test "$(python3 -c 'import json, sys; print(sys.argv[2] in [r["text"] for r in json.load(open(sys.argv[1]))["result"]])' "${work}/recs.body" "${marker}")" = True
fi

rpc nomethod no.such.method '{}' "${basic[@]}"
check "RPC unknown method: HTTP 200 with error" test "$(code nomethod)" = 200 -a "$(json nomethod "'error' in d")" = True

# ---- upload and import ----------------------------------------------------------
# Data files go to the REST endpoint /api/db/v0/data_files/ (session + CSRF; the
# REST views take no HTTP Basic); tables.import then reads them by id.
printf 'name,qty\nwidget,3\n"gadget, large",5\n' > "${work}/smoke.csv"
req up_anon -F "file=@${work}/smoke.csv" "${base}/api/db/v0/data_files/"
detail="got $(code up_anon)"
check "upload unauthenticated is refused (401/403)" test "$(code up_anon)" = 403 -o "$(code up_anon)" = 401
req up_session "${session[@]}" -F "file=@${work}/smoke.csv" "${base}/api/db/v0/data_files/"
detail="got $(code up_session) $(cat "${work}/up_session.body")"
check "upload (session + CSRF) is 201 with the data file's id" \
  test "$(code up_session)" = 201 -a "$(json up_session "isinstance(d['id'], int)")" = True
data_file_id="$(json up_session "d['id']")"
req up_old "${session[@]}" -F "file=@${work}/smoke.csv" "${base}/api/ui/v0/data_files/"
detail="got $(code up_old)"
check "the old path /api/ui/v0/data_files/ is 404 (as in real Mathesar)" test "$(code up_old)" = 404

if [[ -n "${SMOKE_CREATE_DB:-}" && -n "${data_file_id}" ]]; then
  newdb="smoke_import_$(date +%s)"
  rpc newdb databases.setup.create_new "{\"database\": \"${newdb}\", \"sample_data\": [], \"nickname\": \"smoke\"}" "${session[@]}"
  detail="$(cat "${work}/newdb.body")"
  check "RPC databases.setup.create_new ${newdb}" test "$(json newdb "'result' in d")" = True
  rpc dbs databases.configured.list '{}' "${basic[@]}"
  db_id="$(json dbs "[x['id'] for x in d['result'] if x['name'] == '${newdb}'][0]")"
  rpc schemas schemas.list "{\"database_id\": ${db_id:-0}}" "${basic[@]}"
  public="$(json schemas "[x['oid'] for x in d['result'] if x['name'] == 'public'][0]")"
  detail="$(cat "${work}/schemas.body")"
  check "RPC schemas.list has public" test -n "${public}"
  rpc imported tables.import "{\"data_file_id\": ${data_file_id}, \"table_name\": \"smoke\", \"schema_oid\": ${public:-0}, \"database_id\": ${db_id:-0}}" "${session[@]}"
  detail="$(cat "${work}/imported.body")"
  check "RPC tables.import" test "$(json imported "'result' in d")" = True
  rpc tables tables.list "{\"schema_oid\": ${public:-0}, \"database_id\": ${db_id:-0}}" "${basic[@]}"
  table_oid="$(json tables "[x['oid'] for x in d['result'] if x['name'] == 'smoke'][0]")"
  rpc recs_import records.list "{\"table_oid\": ${table_oid:-0}, \"database_id\": ${db_id:-0}, \"limit\": 10}" "${basic[@]}"
  detail="$(cat "${work}/recs_import.body")"
  check "RPC records.list: count 2, the cells are there" \
    test "$(json recs_import "d['result']['count'] == 2 and 'gadget, large' in [v for r in d['result']['results'] for v in r.values()]")" = True
else
  echo "SKIP  import into a new database (set SMOKE_CREATE_DB=1)"; skipped=$((skipped + 1))
fi

# ---- host header and static files ------------------------------------------------
REQ_HOST=not-allowed.example req badhost "${base}/auth/login/"
detail="got $(code badhost)"
check "Host not in ALLOWED_HOSTS is 400" test "$(code badhost)" = 400

detail="no hashed .js found in the app page"
check "app page (/) references a hashed JS bundle" test -n "${bundle}"
if [[ -n "${bundle}" ]]; then
  req bundle_gz -H 'Accept-Encoding: gzip' "${base}${bundle}"
  detail="code $(code bundle_gz), encoding '$(header bundle_gz content-encoding)'"
  check "bundle ${bundle} served gzip-encoded" \
    test "$(code bundle_gz)" = 200 -a "$(header bundle_gz content-encoding)" = gzip
  detail="cache-control '$(header bundle_gz cache-control)'"
  check "bundle has a long immutable Cache-Control" \
    test -n "$(header bundle_gz cache-control | grep immutable | grep 'max-age=[0-9]\{7,\}')"
  echo "      bundle: $(wc -c < "${work}/bundle_gz.body") bytes on the wire, $(header bundle_gz cache-control)"
fi

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[[ "${failed}" -eq 0 ]]
