"""Checks of the external (managed) database mode: what the play created on a server it does not manage."""

import os
import shlex

import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")


def _host(group):
    names = AnsibleRunner(INVENTORY).get_hosts(group)
    assert len(names) == 1, (group, names)
    return testinfra.get_host(f"ansible://{names[0]}", ansible_inventory=INVENTORY)


def _psql(host, sql, database="postgres"):
    result = host.run(f"runuser -u postgres -- psql -XAt -d {database} -c {shlex.quote(sql)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_play_created_role_and_database_on_the_managed_server():
    db = _host("managed_db")
    assert _psql(db, "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'mathesar'") == "f|t"
    assert _psql(db, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mathesar_django'") == "mathesar"
    # The admin it used is no superuser: the mode works with what a managed service hands out.
    assert _psql(db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'dbadmin'") == "f"
    # Mathesar's tables are there, created by migrations over that connection.
    assert int(_psql(db, "SELECT count(*) FROM pg_tables WHERE tableowner = 'mathesar'", "mathesar_django")) > 0


def test_app_host_has_no_database_server():
    app = _host("mathesar_app")
    assert not any(app.package(f"postgresql-{v}").is_installed for v in ("15", "16", "17", "18"))
    env = app.file("/opt/mathesar/shared/config/mathesar.env").content_string
    assert 'POSTGRES_SSLMODE="require"' in env and "PGSSLROOTCERT=" in env
