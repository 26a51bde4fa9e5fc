"""Layout, permissions, sandboxing and secret handling on the app host."""

import json
import os
import shlex
import sys

import pytest
from conftest import REPO, is_primary, recap, run_converge

sys.path.insert(0, str(REPO / "plugins" / "filter"))
sys.path.insert(0, str(REPO / "tests" / "unit"))
from env_values import NASTY  # noqa: E402
from systemd_env import systemd_env_quote  # noqa: E402

testinfra_hosts = [os.environ.get("MATHESAR_TEST_APP_GROUP", "mathesar_app")]


def _env_quote(value):
    for char in ("\\", '"', "$", "`"):
        value = value.replace(char, "\\" + char)
    return '"' + value + '"'


def test_release_layout(host, settings):
    root = settings["root"]
    current = host.file(f"{root}/current")
    assert current.is_symlink
    assert current.linked_to == f"{root}/releases/{settings['version']}"
    assert host.file(f"{root}/releases/{settings['version']}/.venv/bin/gunicorn").exists
    release = host.file(f"{root}/releases/{settings['version']}")
    assert release.user == "root" and not release.mode & 0o002


def test_release_venv_is_built_by_uv_with_bytecode(host, settings):
    # mathesar_app_python_installer's default: uv from its own venv under tools/, a venv without pip, and the
    # bytecode compiled at install time (the service cannot write .pyc files into the root-owned release).
    venv = f"{settings['root']}/releases/{settings['version']}/.venv"
    assert host.file(f"{settings['root']}/tools/uv/bin/uv").exists
    assert "uv = " in host.file(f"{venv}/pyvenv.cfg").content_string
    assert not host.file(f"{venv}/bin/pip").exists
    compiled = host.run(f"find {venv}/lib -path '*/site-packages/django/__pycache__/*.pyc' -print -quit")
    assert compiled.stdout.strip(), "no compiled bytecode in the release venv"


def test_service_user_writes_media_only(host, settings):
    root = settings["root"]
    media = host.file(f"{root}/shared/media")
    assert media.user == "mathesar" and media.mode == 0o750
    can_write = host.run(f"runuser -u mathesar -- test -w {root}/releases/{settings['version']}")
    assert can_write.rc != 0, "the service user can write the release folder"


def test_secret_files_are_not_world_readable(host, settings):
    env = host.file(f"{settings['root']}/shared/config/mathesar.env")
    assert env.user == "root" and env.mode == 0o600
    local = host.file(f"{settings['root']}/shared/config/local.py")
    assert not local.mode & 0o007
    config = host.file(f"{settings['root']}/shared/config")
    assert not config.mode & 0o007


def test_environment_carries_the_vault_values_unmangled(host, settings):
    env = host.file(f"{settings['root']}/shared/config/mathesar.env").content_string
    assert f"SECRET_KEY={_env_quote(settings['secret_key'])}\n" in env
    # What the running service really sees (systemd's parser), for the password full of quotes and $ \ # ;.
    pid = host.run("systemctl show -p MainPID --value mathesar").stdout.strip()
    environ = host.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.splitlines()
    assert f"POSTGRES_PASSWORD={settings['db_password']}" in environ
    assert f"SECRET_KEY={settings['secret_key']}" in environ


def test_systemd_reads_the_quoted_values_back(host):
    """The role's systemd_env_quote filter against systemd's own EnvironmentFile parser on the target (the unit
    tests check sh; the controller has no systemd): every awkward value comes back unchanged."""
    env = "".join(f"NASTY_{i}={systemd_env_quote(value)}\n" for i, value in enumerate(NASTY))
    code = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('NASTY_')}))"
    result = host.run(f"f=$(mktemp) && printf %s {shlex.quote(env)} > $f && "
                      f"systemd-run --wait --pipe --quiet -p EnvironmentFile=$f python3 -c {shlex.quote(code)}; "
                      "rc=$?; rm -f $f; exit $rc")
    assert result.rc == 0, result.stderr
    assert json.loads(result.stdout) == {f"NASTY_{i}": value for i, value in enumerate(NASTY)}


def test_unit_is_sandboxed(host):
    shown = host.run("systemctl show mathesar -p User -p ProtectSystem -p NoNewPrivileges -p PrivateTmp "
                     "-p ReadWritePaths -p CapabilityBoundingSet").stdout
    props = dict(line.split("=", 1) for line in shown.splitlines())
    assert props["User"] == "mathesar"
    assert props["ProtectSystem"] == "strict"
    assert props["NoNewPrivileges"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["ReadWritePaths"] == "/opt/mathesar/shared/media"
    assert props["CapabilityBoundingSet"] == ""


def test_conn_max_age_is_set(host):
    code = ("from django.db import connection as c; "
            "print(c.settings_dict['CONN_MAX_AGE'], c.settings_dict['CONN_HEALTH_CHECKS'])")
    result = host.run("cd /opt/mathesar/current && set -a && . /opt/mathesar/shared/config/mathesar.env && "
                      f"set +a && .venv/bin/python manage.py shell -c {shlex.quote(code)}")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "60 True"


# A --check --diff run costs as much as a converge. It runs once per layout: in day_two (same-host layout, Debian 13;
# also same_host when run by hand) and in separate_hosts (DB host with TLS, app host, both hardened). The scenarios
# hardening (same-host layout again, over SSH) and external_db (separate_hosts' app host) skip it, to keep
# `make test` inside CI's time budget.
CHECK_MODE_SCENARIOS = {"same_host", "day_two", "separate_hosts"}


def test_check_diff_run_is_clean():
    scenario = os.environ["MOLECULE_SCENARIO_NAME"]
    if scenario not in CHECK_MODE_SCENARIOS:
        pytest.skip(f"SKIPPED LOUDLY: scenario {scenario} repeats a layout whose --check --diff run the scenarios "
                    f"{' and '.join(sorted(CHECK_MODE_SCENARIOS))} already make (CI time budget)")
    run = run_converge("--check", "--diff")
    assert run.returncode == 0, run.stdout[-3000:]
    hosts = recap(run.stdout)
    assert hosts and all(changed == "0" and failed == "0" for changed, failed in hosts), run.stdout[-3000:]


def test_secret_key_change_is_refused(host, settings, app_hosts):
    """A re-run with another SECRET_KEY must fail before touching the environment file of any app host. The run
    goes to every app host at once, so it runs in the primary's turn and checks each one's file."""
    if not is_primary(host):
        pytest.skip("SKIPPED LOUDLY: the primary's turn of this check re-runs on every app host and reads each one's "
                    "environment file")
    env_path = f"{settings['root']}/shared/config/mathesar.env"
    before = {app.backend.get_hostname(): app.file(env_path).sha256sum for app in app_hosts}
    run = run_converge("--tags", "mathesar_app_config", "-e", "mathesar_app_secret_key=" + "x" * 50)
    assert run.returncode != 0, run.stdout[-2000:]
    # ansible-core 2.19 prints task failures on stderr.
    assert "differs from the SECRET_KEY this installation already uses" in run.stdout + run.stderr
    assert {app.backend.get_hostname(): app.file(env_path).sha256sum for app in app_hosts} == before


def test_scheduled_backup_dumps_the_database_over_the_service_connection(host):
    """The timer's backup service connects like Mathesar does (locally, or over TLS to a DB host or a managed
    server) and writes a readable, root-only dump of the internal database. One timer per deployment: on the
    primary app host; on the others it is off, and their backup service works all the same."""
    assert host.service("mathesar-backup.timer").is_enabled == is_primary(host)
    assert host.run("systemctl start mathesar-backup.service").rc == 0
    latest = host.run("ls -1d /var/backups/mathesar/*_scheduled | tail -n 1").stdout.strip()
    assert latest, "no scheduled backup was written"
    assert host.run(f"cd {latest} && sha256sum --quiet -c SHA256SUMS").rc == 0
    listing = host.run(f"pg_restore --list {latest}/database.dump")
    assert listing.rc == 0, listing.stderr
    assert "TABLE public django_migrations" in listing.stdout
    modes = host.run(f"stat -c '%U %a' {latest} {latest}/database.dump").stdout.split("\n")
    assert modes[:2] == ["root 700", "root 600"], modes
