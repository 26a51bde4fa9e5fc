"""Checks of the external (managed) database mode: what the play created on a server it does not manage."""

from conftest import host_in_group, psql


def test_play_created_role_and_database_on_the_managed_server():
    db = host_in_group("managed_db")
    assert psql(db, "SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'mathesar'") == "f|t"
    assert psql(db, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mathesar_django'") == "mathesar"
    # The admin it used is no superuser: the mode works with what a managed service hands out.
    assert psql(db, "SELECT rolsuper FROM pg_roles WHERE rolname = 'dbadmin'") == "f"
    # Mathesar's tables are there, created by migrations over that connection.
    assert int(psql(db, "SELECT count(*) FROM pg_tables WHERE tableowner = 'mathesar'", "mathesar_django")) > 0


def test_app_host_has_no_database_server():
    app = host_in_group("mathesar_app")
    assert not any(app.package(f"postgresql-{v}").is_installed for v in ("15", "16", "17", "18"))
    env = app.file("/opt/mathesar/shared/config/mathesar.env").content_string
    assert 'POSTGRES_SSLMODE="require"' in env and "PGSSLROOTCERT=" in env
