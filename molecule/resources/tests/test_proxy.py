"""The reverse proxy's own surfaces, on the proxy's host of every layout (the app host, or the load balancer): its
control interface is root's only, and a request for a name the site does not serve is refused, never answered with
an empty page or a redirect."""

import shlex

import pytest

from conftest import PROXY_GROUP, proxy_of, site_ca

testinfra_hosts = [PROXY_GROUP]


def _local_users(host):
    """The unprivileged users to try: nobody, and Mathesar's service user where the proxy shares the host."""
    return ["nobody"] + (["mathesar"] if host.user("mathesar").exists else [])

ADMIN_SOCKET = "/var/lib/caddy/admin.sock"
# Caddy's admin API over a unix socket answers a request with an empty Host only.
ADMIN_CONFIG = f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: ' --unix-socket {ADMIN_SOCKET} http://x/config/"


@pytest.fixture()
def proxy(host, settings):
    """The proxy backend on the test's host."""
    return proxy_of(host, settings)


@pytest.fixture()
def caddy_only(proxy):
    if proxy != "caddy":
        pytest.skip(f"SKIPPED LOUDLY: a check of Caddy's admin API; this host's proxy is {proxy} "
                    "(test_nginx_is_controlled_by_root_only checks its control)")


def test_nginx_is_controlled_by_root_only(host, proxy):
    """nginx has no control API: its master (root) takes signals from root alone, and it listens on 80 and 443
    only."""
    if proxy != "nginx":
        pytest.skip(f"SKIPPED LOUDLY: a check of nginx; this host's proxy is {proxy} "
                    "(the admin API checks above cover Caddy)")
    master = host.check_output("systemctl show -p MainPID --value nginx")
    assert host.check_output(f"ps -o user= -p {master}") == "root"
    for user in _local_users(host):
        denied = host.run(f"runuser -u {user} -- kill -HUP {master}")
        assert denied.rc != 0, (user, denied.stdout, denied.stderr)
        reload = host.run(f"runuser -u {user} -- /usr/sbin/nginx -s reload")
        assert reload.rc != 0, (user, reload.stdout, reload.stderr)
    ports = {line.split()[3].rsplit(":", 1)[1] for line in host.check_output("ss -Htlnp").splitlines()
             if "nginx" in line}
    assert ports == {"80", "443"}, ports


def test_admin_api_is_a_socket_only_root_and_caddy_open(host, settings, caddy_only):
    assert host.run("ss -Hltn 'sport = :2019'").stdout.strip() == "", "Caddy's admin API still listens on TCP 2019"
    socket = host.file(ADMIN_SOCKET)
    assert socket.is_socket and socket.user == "caddy"
    assert host.run(ADMIN_CONFIG).stdout == "200"
    config = host.run(f"curl -s -H 'Host: ' --unix-socket {ADMIN_SOCKET} http://x/config/").stdout
    assert settings["domain"] in config
    # Any other local user (a compromised app worker runs as mathesar) cannot even connect: curl's exit 7.
    for user in _local_users(host):
        denied = host.run(f"runuser -u {user} -- {ADMIN_CONFIG}")
        assert denied.rc == 7 and denied.stdout != "200", (user, denied.rc, denied.stdout)
        tcp = host.run(f"runuser -u {user} -- curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:2019/config/")
        assert tcp.rc == 7, (user, tcp.rc, tcp.stdout)


def test_caddy_reloads_through_the_socket(host, caddy_only):
    # Debian's ExecReload (`caddy reload`, as the caddy user) reaches the admin API through the socket.
    reload = host.run("systemctl reload caddy")
    assert reload.rc == 0, reload.stderr
    assert host.service("caddy").is_running


def _curl(host, settings, url, host_header=None, resolve_port=None):
    domain = settings["domain"]
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--max-time", "15",
            "--cacert", site_ca(host)]
    if resolve_port:
        argv += ["--resolve", f"{domain}:{resolve_port}:127.0.0.1"]
    if host_header:
        argv += ["-H", f"Host: {host_header}"]
    return host.run(" ".join(shlex.quote(a) for a in [*argv, url]))


def test_unknown_host_over_http_is_refused(host, settings):
    refused = _curl(host, settings, "http://127.0.0.1/auth/login/", host_header="misdirected.example")
    # Connection closed without a response (curl 52), not a 308 to https://misdirected.example/.
    assert refused.rc == 52, (refused.rc, refused.stdout, refused.stderr)
    served = _curl(host, settings, f"http://{settings['domain']}/auth/login/", resolve_port=80)
    assert served.stdout == f"308 https://{settings['domain']}/auth/login/", served.stdout


def test_unknown_host_over_https_is_refused(host, settings):
    # The site's name in SNI, another in Host: the connection is reset (Caddy; nginx over HTTP/1.1) or the request is
    # answered 421 Misdirected Request (nginx over HTTP/2), never an empty 200 or a redirect.
    misdirected = _curl(host, settings, f"https://{settings['domain']}/auth/login/", host_header="misdirected.example",
                        resolve_port=443)
    assert misdirected.rc != 0 or misdirected.stdout.split()[0] in ("421", "400"), (misdirected.rc,
                                                                                   misdirected.stdout)
    # Another name in SNI: no certificate, the handshake fails.
    other = host.run("curl -sS -o /dev/null --max-time 15 -k --resolve misdirected.example:443:127.0.0.1 "
                     "https://misdirected.example/")
    assert other.rc != 0, other.stdout
    served = _curl(host, settings, f"https://{settings['domain']}/auth/login/", resolve_port=443)
    assert served.stdout.startswith("200"), served.stdout


def test_https_speaks_http2(host, settings):
    # Browsers load the app's page, bundles and RPC calls over one multiplexed connection (ALPN h2), on both backends.
    version = host.run(f"curl -sS -o /dev/null -w '%{{http_version}}' --http2 --max-time 15 --cacert {site_ca(host)} "
                       f"--resolve {settings['domain']}:443:127.0.0.1 https://{settings['domain']}/auth/login/")
    assert version.rc == 0 and version.stdout == "2", (version.rc, version.stdout, version.stderr)
