#!/usr/bin/env bash
# Who should serve /static/? Measures, on a converged same-host container, the largest static bundle fetched
# with gzip through the real site (Caddy -> gunicorn + WhiteNoise) and from Caddy's own file_server (a second,
# temporary site on :8443 serving the same folder with precompressed files). wrk runs inside the container
# against loopback only. A benchmark, not a test: record its output in docs/benchmarks.md.
#   tests/benchmarks/static-files.sh CONTAINER [DOMAIN]
set -euo pipefail
name=${1:?usage: static-files.sh CONTAINER [DOMAIN]}
domain=${2:-mathesar.test}
inside() { docker exec "$name" sh -c "$1"; }
inside "command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null)"
inside "grep -q ' $domain\$' /etc/hosts || echo '127.0.0.1 $domain' >> /etc/hosts"
# The largest hashed JS bundle collectstatic wrote (the login page loads none; the app page after login does).
bundle=/static/$(inside "cd /opt/mathesar/current/static && find . -regex '.*\.[0-9a-f]\{12\}\.js' -printf '%s %P\n'" \
  | sort -n | tail -1 | cut -d' ' -f2)
[ "$bundle" != /static/ ] || { echo "static-files: no hashed JS bundle in the collected static files" >&2; exit 1; }
inside "cp -p /etc/caddy/Caddyfile /etc/caddy/Caddyfile.bench-orig && cat >> /etc/caddy/Caddyfile <<CADDY

https://$domain:8443 {
	tls internal
	handle_path /static/* {
		root * /opt/mathesar/current/static
		file_server {
			precompressed gzip
		}
	}
}
CADDY
systemctl reload caddy"
sleep 1
# A second, synthetic bundle the size of the real 0.10.1 one (2.4 MB, its .gz copy made like collectstatic's),
# in place before gunicorn restarts: WhiteNoise indexes the static folder at start-up.
big=/static/bench/big.0123456789ab.js
inside "d=/opt/mathesar/current/static/bench && mkdir -p \$d && src=\$(ls /opt/mathesar/current/static/mathesar/assets/main.*.js | grep -v gz | head -1) &&
  : > \$d/big.0123456789ab.js && while [ \$(stat -c %s \$d/big.0123456789ab.js) -lt 2400000 ]; do cat \$src >> \$d/big.0123456789ab.js; done &&
  gzip -9 -k -f \$d/big.0123456789ab.js && systemctl restart mathesar && sleep 3"
trap 'docker exec "$name" sh -c "rm -rf /opt/mathesar/current/static/bench; systemctl restart mathesar;
  mv /etc/caddy/Caddyfile.bench-orig /etc/caddy/Caddyfile && systemctl reload caddy"' EXIT
measure() {  # label url [extra curl/wrk header]
  local headers rps size
  size=$(inside "curl -sk -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' ${3:+-H '$3'} $2")
  headers=$(inside "curl -skI -H 'Accept-Encoding: gzip' ${3:+-H '$3'} $2" | grep -iE '^(content-encoding|cache-control):' | tr -d '\r' | tr '\n' ' ')
  sleep 5  # let TIME_WAIT sockets from the previous run drain
  rps=$(inside "wrk -t1 -c16 -d10s -H 'Accept-Encoding: gzip' ${3:+-H '$3'} $2" | awk '/Requests\/sec/ {print $2}')
  printf '%-26s %8s req/s  %7s B  %s\n' "$1" "$rps" "$size" "$headers"
}
for path in "$bundle" "$big"; do
  echo "== $path"
  measure "gunicorn+whitenoise direct" "http://127.0.0.1:8000$path" "Host: $domain"
  measure "whitenoise via caddy" "https://$domain$path"
  measure "caddy file_server" "https://$domain:8443$path"
done
