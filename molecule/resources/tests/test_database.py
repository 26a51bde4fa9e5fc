"""PostgreSQL on the database host: authentication and exposure."""

import os

from conftest import psql

testinfra_hosts = [os.environ.get("MATHESAR_TEST_DB_GROUP", "mathesar_db")]


def test_passwords_use_scram(host):
    assert psql(host, "SHOW password_encryption") == "scram-sha-256"
    assert psql(host, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname='mathesar'") == "t"


def test_hba_has_no_trust_or_md5(host):
    methods = set(psql(host, "SELECT DISTINCT auth_method FROM pg_hba_file_rules").split())
    assert methods and not methods & {"trust", "md5", "password"}, methods


def test_mathesar_owns_its_database(host):
    owner = psql(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname='mathesar_django'")
    assert owner == "mathesar"


def test_settings_drop_in_is_live(host):
    assert psql(host, "SELECT sourcefile FROM pg_settings WHERE name='shared_buffers'").endswith(
        "conf.d/50-mathesar-deploy.conf")
    assert psql(host, "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL "
                       "AND error <> 'setting could not be applied'") == "0"


def test_connections_and_their_authentication_are_logged(host):
    assert psql(host, "SHOW log_connections") == "on"
    assert psql(host, "SHOW log_disconnections") == "on"
    # The psql sessions above left their lines: the role and database each authenticated as, and the session's end.
    for line in ("connection authorized: user=postgres database=postgres", "disconnection: session time:"):
        found = host.run(f"grep -hc '{line}' /var/log/postgresql/postgresql-*-main.log")
        assert found.rc == 0 and int(found.stdout.split()[0]) > 0, (line, found.stdout, found.stderr)
