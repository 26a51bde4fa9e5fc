"""Checks only the separate-hosts layout has: TLS to the DB, who may connect, what runs where, faults."""

import pathlib
import shlex
import time

import pytest
import yaml
from conftest import (SITE_CA, fresh_db_connection, host_in_group, open_tcp_ports, pg_conf_dir, pg_unit, probe_listener,
                      psql, site_status, tcp_connects)
from mathesar_client import Client

_NETWORK = yaml.safe_load((pathlib.Path(__file__).resolve().parents[3] / "vars" / "test-network.yml").read_text())
DB_ADDRESS = _NETWORK["__test_networks"]["separate_hosts"]["mathesar_db"]
APP_ADDRESS = _NETWORK["__test_networks"]["separate_hosts"]["mathesar_app"]


@pytest.fixture(scope="module")
def db():
    return host_in_group("mathesar_db")


@pytest.fixture(scope="module")
def app():
    return host_in_group("mathesar_app")


def _app_answers(app, settings):
    """The login page through the proxy on the app host (a fresh DB round trip)."""
    return site_status(app, settings["domain"]) == "200"


def test_app_connects_over_tls_with_scram(db, app, settings):
    assert _app_answers(app, settings)
    rows = psql(db, "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                     f"WHERE a.usename = 'mathesar' AND a.client_addr = '{APP_ADDRESS}'")
    assert rows, "no connection from the app host"
    assert all(line.startswith("t|TLSv1.") for line in rows.splitlines()), rows
    # Any database and role: people create databases in Mathesar and connect to them from the app host.
    rule = psql(db, "SELECT type, auth_method, database, user_name FROM pg_hba_file_rules "
                     f"WHERE address = '{APP_ADDRESS}'")
    assert rule == "hostssl|scram-sha-256|{all}|{all}"


def test_app_verifies_the_server_certificate(app):
    env = app.file("/opt/mathesar/shared/config/mathesar.env").content_string
    assert 'POSTGRES_SSLMODE="require"' in env
    assert 'PGSSLROOTCERT="/opt/mathesar/shared/config/db-root-ca.crt"' in env
    assert fresh_db_connection(app).stdout.strip() == "1"


def test_outsider_cannot_open_a_session(outsider, settings):
    """The DB host's firewall drops the outsider's packets before PostgreSQL sees them (pg_hba would refuse too:
    test_app_connects_over_tls_with_scram checks its only network rule is the app host's)."""
    password = shlex.quote(settings["db_password"])
    result = outsider.run(f"PGPASSWORD={password} psql -XAt -c 'select 1' "
                          f"'host={DB_ADDRESS} dbname=mathesar_django user=mathesar sslmode=require connect_timeout=5'")
    assert result.rc != 0
    assert "timeout expired" in result.stderr, result.stderr


def test_port_scan_from_the_outsider_finds_only_the_expected_ports(outsider, app, db):
    """A full TCP scan from a host on the same network. A listener on every address of each host (port 8081) shows
    that the firewall, not only the services' bind addresses, decides: it stays hidden."""
    with probe_listener(app, 8081), probe_listener(db, 8081):
        assert tcp_connects(app, "127.0.0.1", 8081) and tcp_connects(db, "127.0.0.1", 8081)
        found = open_tcp_ports(outsider, APP_ADDRESS, DB_ADDRESS)
    print(f"open TCP ports seen from the outsider: {found}")
    assert found[APP_ADDRESS] == {22, 80, 443}
    assert found[DB_ADDRESS] == {22}


def test_app_host_reaches_postgres_through_the_firewall(app, outsider):
    assert tcp_connects(app, DB_ADDRESS, 5432)
    assert not tcp_connects(outsider, DB_ADDRESS, 5432)


def test_postgres_listens_on_loopback_and_private_address_only(db):
    listeners = db.run("ss -Htln").stdout.splitlines()
    addresses = sorted(line.split()[3] for line in listeners if line.split()[3].endswith(":5432"))
    assert addresses == sorted([f"{DB_ADDRESS}:5432", "127.0.0.1:5432", "[::1]:5432"]) or \
        addresses == sorted([f"{DB_ADDRESS}:5432", "127.0.0.1:5432"]), addresses


def test_each_host_runs_only_its_part(db, app):
    assert not db.exists("caddy") and not db.file("/etc/systemd/system/mathesar.service").exists
    assert not db.file("/opt/mathesar").exists
    assert not any(app.package(f"postgresql-{v}").is_installed for v in ("15", "16", "17", "18"))
    assert not any(line.split()[3].endswith(":5432") for line in app.run("ss -Htln").stdout.splitlines())


def test_certificate_from_another_ca_is_refused(db, app):
    """Swap in a certificate from a foreign CA: a new connection from the app must fail, then recover."""
    unit = pg_unit(db)
    conf = pg_conf_dir(db)
    crt, key = f"{conf}/mathesar-deploy-server.crt", f"{conf}/mathesar-deploy-server.key"
    issuer = "openssl s_client -starttls postgres -connect 127.0.0.1:5432 </dev/null 2>/dev/null | grep '^issuer'"
    assert db.run(f"cp -p {crt} {crt}.orig && cp -p {key} {key}.orig").rc == 0
    try:
        made = db.run(f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                      f"-subj /CN=mathesar-db -keyout {key} -out {crt} && chown postgres: {crt} {key} && "
                      f"chmod 600 {key} && systemctl reload {unit}")
        assert made.rc == 0, made.stderr
        time.sleep(1)
        # The server really presents the foreign certificate now.
        assert db.run(issuer).stdout.strip() == "issuer=CN=mathesar-db"
        refused = fresh_db_connection(app)
        assert refused.rc != 0
        assert "certificate verify failed" in refused.stderr, refused.stderr
    finally:
        db.run(f"mv {crt}.orig {crt} && mv {key}.orig {key} && systemctl reload {unit}")
        time.sleep(1)
    assert "mathesar.deploy PostgreSQL CA" in db.run(issuer).stdout
    assert fresh_db_connection(app).stdout.strip() == "1"


def test_mathesar_recovers_after_a_postgres_restart(db, app, settings):
    assert _app_answers(app, settings)
    started_before = psql(db, "SELECT pg_postmaster_start_time()")
    assert db.run(f"systemctl restart {pg_unit(db)}").rc == 0
    start = time.monotonic()
    assert psql(db, "SELECT pg_postmaster_start_time()") != started_before, "PostgreSQL did not restart"
    deadline = start + 30
    while time.monotonic() < deadline:
        if _app_answers(app, settings):
            break
        time.sleep(0.5)
    took = time.monotonic() - start
    print(f"Mathesar answered again {took:.1f} s after PostgreSQL restarted")
    assert took < 30, "Mathesar did not recover within 30 s of a PostgreSQL restart"
    # And a request that needs the database (session lookup, RPC) works again.
    client = Client(app, settings["domain"], SITE_CA)
    try:
        assert client.login(settings["admin_user"], settings["admin_password"]).status == 302
        assert "result" in client.rpc("databases.configured.list")
    finally:
        client.close()
