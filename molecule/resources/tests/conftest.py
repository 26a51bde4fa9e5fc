"""Fixtures shared by the scenarios' verify tests (testinfra through Molecule's inventory)."""

import contextlib
import datetime
import functools
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import pytest
import testinfra
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from cryptography import x509
from testinfra.utils.ansible_runner import AnsibleRunner

sys.path.insert(0, os.path.dirname(__file__))
from mathesar_client import Client  # noqa: E402

RESOURCES = pathlib.Path(__file__).resolve().parent.parent
REPO = RESOURCES.parent.parent
# The hardening role's defaults, for the checks of its default lists.
HARDENING_DEFAULTS = yaml.safe_load((REPO / "roles" / "hardening" / "defaults" / "main.yml").read_text())
HARDENING_VARS = yaml.safe_load((REPO / "roles" / "hardening" / "vars" / "main.yml").read_text())
# The root the site's certificate chains to, as a file on the app host: Caddy's local CA (reverse_proxy_tls_mode
# internal), or the root that a scenario in another mode puts there (MATHESAR_TEST_SITE_CA): the test PKI's (files)
# or Pebble's (acme).
SITE_CA = os.environ.get("MATHESAR_TEST_SITE_CA",
                         "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt")
LAYOUT = os.environ.get("MATHESAR_TEST_LAYOUT", "same_host")
# Further folders of layouts/ whose tests run too (the hardening scenario adds its checks over SSH).
SELECTED_LAYOUTS = {LAYOUT, *os.environ.get("MATHESAR_TEST_EXTRA_LAYOUTS", "").split()}

LAYOUTS = pathlib.Path(__file__).resolve().parent / "layouts"

# Where Mathesar runs, and where the site's proxy runs: the app hosts themselves, or the load balancers in front of
# them (MATHESAR_TEST_PROXY_GROUP, the balancer scenario). The end-to-end checks drive the proxy's host.
APP_GROUP = os.environ.get("MATHESAR_TEST_APP_GROUP", "mathesar_app")
PROXY_GROUP = os.environ.get("MATHESAR_TEST_PROXY_GROUP", APP_GROUP)
BALANCED = PROXY_GROUP != APP_GROUP

# The collection's CAs on the controller (mathesar_pki_dir in ../vars/test-overrides.yml).
TEST_PKI = pathlib.Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "pki"

# The balancer scenario's second balancer (group test_nginx_lb, vars/test-balancer.yml) runs nginx with a test PKI's
# certificate, whose root site-pki.yml puts there; every other proxy host runs settings["proxy"] with SITE_CA.
NGINX_LB_GROUP = "test_nginx_lb"
FILES_MODE_SITE_CA = "/root/mathesar-test-site-root.crt"


def on_nginx_lb(host):
    """Whether host is the balancer scenario's nginx balancer."""
    return host.backend.get_hostname() in names_in_group(NGINX_LB_GROUP)


def site_ca(host):
    """The root that the site's certificate on host chains to (a path on host)."""
    return FILES_MODE_SITE_CA if on_nginx_lb(host) else SITE_CA


def proxy_of(host, settings):
    """The proxy backend on host: caddy or nginx."""
    return "nginx" if on_nginx_lb(host) else settings["proxy"]


# Layout folders whose tests change the installation (upgrades, restore, uninstall, a lost host): they run after
# all others.
RUN_LAST = {"day_two", "db_backups", "balancer"}


def _layout_of(item):
    path = pathlib.Path(str(item.fspath))
    return path.relative_to(LAYOUTS).parts[0] if LAYOUTS in path.parents else None


def pytest_collection_modifyitems(config, items):
    """Tests in layouts/<name>/ belong to that layout's scenario only (and to scenarios that name the folder in
    MATHESAR_TEST_EXTRA_LAYOUTS); the ones beside this file run in every scenario. Molecule names every test file
    on the command line, so the others are deselected here. The RUN_LAST folders go to the end, in file order."""
    other = [item for item in items if _layout_of(item) not in SELECTED_LAYOUTS | {None}]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]
    items.sort(key=lambda item: _layout_of(item) in RUN_LAST)


def _load_vault(name="test-vault.yml"):
    """A test vault of molecule/resources/vars/, decrypted."""
    secret = VaultSecret((RESOURCES / "test-vault-password").read_bytes().strip())
    plain = VaultLib([("default", secret)]).decrypt((RESOURCES / "vars" / name).read_bytes())
    return yaml.safe_load(plain)


def _layout_vars():
    """The example inventory's plain variables, with the test-only overrides on top."""
    merged = {}
    for path in sorted((REPO / "inventories" / "example" / "group_vars").glob("*/main.yml")):
        merged.update(yaml.safe_load(path.read_text()) or {})
    merged.update(yaml.safe_load((RESOURCES / "vars" / "test-overrides.yml").read_text()))
    return merged


@pytest.fixture(scope="session")
def settings():
    layout = LAYOUT
    values = _layout_vars()
    vault = _load_vault()
    return {
        "layout": layout,
        "domain": values["mathesar_app_domain"],
        "admin_user": values["mathesar_app_admin_username"],
        # The proxy backend the scenario runs (molecule.yml's MATHESAR_TEST_PROXY): caddy or nginx.
        "proxy": os.environ.get("MATHESAR_TEST_PROXY", "caddy"),
        "admin_password": vault["vault_mathesar_admin_password"],
        "secret_key": vault["vault_mathesar_secret_key"],
        "db_password": vault["vault_mathesar_db_password"],
        "version": os.environ["MATHESAR_TEST_VERSION"],
        "standin": os.environ.get("MATHESAR_TEST_STANDIN") == "1",
        "root": "/opt/mathesar",
    }


@pytest.fixture()
def client(host, settings):
    c = Client(host, settings["domain"], site_ca(host))
    yield c
    c.close()


@pytest.fixture()
def admin(client, settings):
    response = client.login(settings["admin_user"], settings["admin_password"])
    assert response.status == 302 and "sessionid" in response.cookies, "admin login failed"
    return client


@pytest.fixture()
def standin_only(settings):
    if not settings["standin"]:
        pytest.skip("SKIPPED LOUDLY: this check uses stand-in-only RPC methods (standin.*); "
                    "MATHESAR_RELEASE_ARCHIVE points at a real release")


def run_playbook(name, *args, env=None):
    """Run one of the scenario's playbooks (a real playbook plus test vars) against the test hosts; env: more
    environment variables for ansible-playbook."""
    scenario = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
    playbook = os.path.join(os.environ["VIRTUAL_ENV"], "bin", "ansible-playbook")
    return subprocess.run([playbook, "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           os.path.join(scenario, name), *args],
                          capture_output=True, text=True, timeout=900, check=False,
                          env={**os.environ, **(env or {})})


def run_converge(*args, env=None):
    """Run the scenario's converge playbook (the real playbook plus test vars) against the test hosts again."""
    return run_playbook("converge.yml", *args, env=env)


def output(run):
    """A playbook run's stdout and stderr as one line (Ansible folds long messages over several)."""
    return " ".join((run.stdout + run.stderr).split())


def recap(output):
    """(changed, failed) per host from a PLAY RECAP."""
    return re.findall(r"changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)


@functools.cache
def names_in_group(group):
    """The inventory names of an inventory group's test hosts, sorted by name as testinfra lists them (the
    inventory's order in these scenarios; read once: ansible-inventory runs for it)."""
    return tuple(AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts(group))


def name_in_group(group):
    """The inventory name of the one test host of an inventory group."""
    names = names_in_group(group)
    assert len(names) == 1, (group, names)
    return names[0]


def smtp_listeners(host):
    """The local addresses that listen on SMTP's port (ss cannot name the process in a container)."""
    listed = host.run("ss -H -ltn")
    assert listed.rc == 0, listed.stderr
    return {line.split()[3] for line in listed.stdout.splitlines() if line.split()[3].endswith(":25")}


def served_by(app_hosts, marker):
    """How many requests carrying marker each app host's gunicorn logged (its access log is in the journal)."""
    counts = {}
    for app in app_hosts:
        log = app.run("journalctl -u mathesar --no-pager -n 5000 -o cat").stdout
        counts[app.backend.get_hostname()] = log.count(marker)
    return counts


def hosts_in_group(group):
    """Every test host of an inventory group, in names_in_group's order."""
    return [testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
            for name in names_in_group(group)]


@pytest.fixture(scope="module")
def app_hosts():
    """The hosts that run Mathesar (one, or several behind load balancers)."""
    return hosts_in_group(APP_GROUP)


def is_primary(host):
    """Whether host is the app host that runs what happens once per deployment: the first of the group, as
    playbooks/vars/host_roles.yml decides."""
    return host.backend.get_hostname() == names_in_group(APP_GROUP)[0]


def gunicorn_address(app_host):
    """The address:port systemd holds for gunicorn on app_host (mathesar.socket)."""
    listen = app_host.check_output("systemctl show -p Listen --value mathesar.socket")
    assert listen.endswith(" (Stream)"), listen
    return listen.split()[0]


def site_status(client, domain, query=""):
    """The status of the login page through the site's proxy on client (its loopback), the site's CA checked."""
    return client.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {site_ca(client)} "
                      f"--resolve {domain}:443:127.0.0.1 "
                      f"'https://{domain}/auth/login/{query}'").stdout


def gunicorn_status(client, address, domain):
    """The status of the login page straight from gunicorn at address, asked from client as the proxy asks it."""
    return client.run("curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Proto: https' "
                      f"-H 'Host: {domain}' http://{address}/auth/login/").stdout


class LoadLoop:
    """Clients that load a page of the site through its proxy on `client`, in the background there, for `seconds`;
    each writes one HTTP status per request (000: no answer). Bounded in time (stop() ends it sooner), and only to
    `address` (the proxy on loopback, or a host of the test network)."""

    def __init__(self, client, domain, address="127.0.0.1", seconds=15, clients=8, path="/auth/login/"):
        self.client, self.seconds = client, seconds
        self.out = client.check_output("mktemp -d")
        script = (f"end=$((SECONDS + {seconds})); for w in $(seq {clients}); do "
                  f"(while [ $SECONDS -lt $end ] && [ ! -e {self.out}/stop ]; do "
                  f"curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 30 --cacert {site_ca(client)} "
                  f"--resolve {domain}:443:{address} https://{domain}{path} || true; done > {self.out}/$w) & done; "
                  f"wait; touch {self.out}/done")
        started = client.run(f"setsid -f bash -c {shlex.quote(script)} > /dev/null 2>&1 < /dev/null")
        assert started.rc == 0, started.stderr

    def stop(self):
        """End the clients after their current request."""
        self.client.run(f"touch {self.out}/stop")

    def codes(self):
        """Wait for the clients to end; their statuses, one per request."""
        for _ in range(self.seconds + 60):
            if self.client.run(f"test -e {self.out}/done").rc == 0:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"the load loop in {self.out} did not end")
        codes = self.client.check_output(f"cat {self.out}/[0-9]*").split()
        self.client.run(f"rm -rf {self.out}")
        return codes


def host_in_group(group):
    """The one test host of an inventory group, for tests that act on several hosts at once."""
    return testinfra.get_host(f"ansible://{name_in_group(group)}",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="module")
def outsider():
    """The scenario's outsider: a plain container on the test network that the layout's hosts must keep out."""
    return host_in_group("outsider")


def psql(host, sql, database="postgres"):
    """One query as the postgres superuser on a DB host; unaligned, tuples only."""
    result = host.run(f"runuser -u postgres -- psql -XAt -d {database} -c {shlex.quote(sql)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def _pg_version(db):
    version = db.run("ls /etc/postgresql").stdout.split()
    assert len(version) == 1, version
    return version[0]


def pg_unit(db):
    """The cluster's unit by its real name: `systemctl reload 'postgresql@*-main'` matches nothing and still
    exits 0, so a glob would make these tests pass without touching PostgreSQL."""
    return f"postgresql@{_pg_version(db)}-main"


def pg_conf_dir(db):
    """The cluster's config folder, where the postgres role installs the server certificate and key."""
    return f"/etc/postgresql/{_pg_version(db)}/main"


def fresh_db_connection(app):
    """Open a new DB connection the way the service does: a transient unit with the service's user, environment
    file and venv (so libpq sees the same PGSSLROOTCERT and home folder as gunicorn)."""
    code = ("import os, psycopg; c = psycopg.connect(host=os.environ['POSTGRES_HOST'], "
            "dbname=os.environ['POSTGRES_DB'], user=os.environ['POSTGRES_USER'], "
            "password=os.environ['POSTGRES_PASSWORD'], sslmode=os.environ['POSTGRES_SSLMODE'], connect_timeout=10); "
            "print(c.execute('select 1').fetchone()[0])")
    return app.run("systemd-run --wait --pipe --quiet -p User=mathesar "
                   "-p EnvironmentFile=/opt/mathesar/shared/config/mathesar.env "
                   f"/opt/mathesar/current/.venv/bin/python -c {shlex.quote(code)}")


def open_tcp_ports(scanner, *addresses):
    """{address: set of open TCP ports} from a full nmap scan (all 65535 ports) run on the scanner host.
    On the test network 20000 probes/s find the same ports as 3000/s (each unanswered port is probed twice) and
    take 7 s a host instead of 44 s (measured on the test bed, 2026-12-01)."""
    result = scanner.run("nmap -Pn -n -T4 --max-retries 1 --min-rate 20000 -p- -oG - " + " ".join(addresses))
    assert result.rc == 0, result.stderr
    found = {address: set() for address in addresses}
    for line in result.stdout.splitlines():
        match = re.match(r"Host: (\S+) .*Ports: (.*)", line)
        if match:
            found[match.group(1)] = {int(entry.split("/")[0]) for entry in match.group(2).split(", ")
                                     if entry.split("/")[1] == "open"}
    return found


@contextlib.contextmanager
def probe_listener(host, port):
    """A throwaway TCP server on every address of the host: something the firewall must hide from outside."""
    unit = f"mathesar-test-listener-{port}"
    started = host.run(f"systemd-run --unit={unit} python3 -m http.server {port} --bind 0.0.0.0")
    assert started.rc == 0, started.stderr
    try:
        deadline = time.monotonic() + 10
        while host.run(f"ss -Htln 'sport = :{port}' | grep -q .").rc != 0:
            assert time.monotonic() < deadline, "the probe listener did not start"
            time.sleep(0.3)
        yield
    finally:
        host.run(f"systemctl stop {unit}")


def not_after(pem):
    """A PEM certificate's expiry (UTC)."""
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc


def sign_short_lived_certificate(pki, name, days=5):
    """Sign the host's existing request in a role's controller-side CA folder again, valid for `days` only (as if
    the certificate were about to expire), over the host's certificate there; its PEM."""
    crt = pki / f"{name}.crt"
    signed = subprocess.run(
        ["openssl", "x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"),
         "-CAkey", str(pki / "ca.key"), "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", str(days),
         "-copy_extensions", "copy", "-out", str(crt)], capture_output=True, text=True, check=False)
    assert signed.returncode == 0, signed.stderr
    short = crt.read_bytes()
    assert not_after(short) < datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days + 1)
    return short


def tcp_connects(client, address, port, timeout=3):
    """Whether client opens a TCP connection to address:port within timeout seconds."""
    return client.run(f"timeout {timeout} bash -c '</dev/tcp/{address}/{port}'").rc == 0
