"""Day two on one host, in order: data on v1 (0.10); an upgrade to a broken release rolls back (database restored);
the upgrade to v2 (0.11) is refused while a username is too long for 0.11, then keeps data and sessions and passes
0.11's own settings to it; a downgrade is refused; backup, destruction (with pruning to one
release) and restore; a scheduled backup; uninstall keeps the data and a re-install picks it up.

The tests share one installation and run in file order: each builds on the state the previous one left.
Every check looks at the data itself (records, files, migrations, sessions, decryptable stored passwords).
"""

import contextlib
import hashlib
import json
import os
import re
import shlex
import subprocess

import pytest
from conftest import (REPO, SITE_CA, host_in_group, name_in_group, output, psql, recap, run_converge,
                      run_playbook)
from mathesar_client import Client

pytestmark = pytest.mark.usefixtures("standin_only")

V2 = "0.11.0-standin2"
BROKEN = "0.10.2-broken1"
# A client secret that no output may show.
SSO_SECRET = "sso-client-secret-never-shown"
# Mathesar 0.11's own settings, on every run of V2 (a run without them would change the configuration).
V2_SETTINGS = {
    "mathesar_app_sso_config": {"version": 2, "providers": {"okta": {
        "type": "oidc", "client_id": "mathesar", "secret": SSO_SECRET, "server_url": "https://sso.example.test/"}}},
    "mathesar_app_per_user_databases": True,
    "mathesar_app_file_storage": {"protocol": "s3", "key": "mathesar", "secret": SSO_SECRET},
}
STATE = {}
# A site of the admin's own on the same nginx (nginx scenarios): the uninstall and the re-install leave it serving.
OTHER_SITE = "/etc/nginx/conf.d/other-site.conf"


@pytest.fixture(scope="module")
def vps():
    return host_in_group("mathesar_app")


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """The releases after v1, built from the stand-in: v2 adds a migration; the broken one adds the same
    migration and then one that fails."""
    folder = tmp_path_factory.mktemp("releases")
    built = {}
    for version, options in ((V2, ["--migration-extra"]), (BROKEN, ["--migration-extra", "--broken-migration"])):
        path = folder / f"mathesar-{version}.tar.gz"
        subprocess.run([str(REPO / "tests/standin/build.sh"), version, str(path), *options],
                       check=True, capture_output=True)
        built[version] = str(path)
    return built


@pytest.fixture(scope="module")
def user(vps, settings):
    """One logged-in browser session that lives through the whole file (its cookie jar stays on the host)."""
    with logged_in(vps, settings) as c:
        yield c


@contextlib.contextmanager
def logged_in(vps, settings):
    """A new browser session logged in as the admin (its cookie jar on the host is removed afterwards)."""
    c = Client(vps, settings["domain"], SITE_CA)
    try:
        response = c.login(settings["admin_user"], settings["admin_password"])
        assert response.status == 302 and "sessionid" in response.cookies, "admin login failed"
        yield c
    finally:
        c.close()


def deploy(version, archive, *args):
    if version == V2:
        args = ("-e", json.dumps(V2_SETTINGS), *args)
    return run_converge("-e", f"mathesar_app_version={version}", "-e", f"mathesar_app_release_archive={archive}",
                        *args)


def current_release(vps, settings):
    return os.path.basename(vps.file(f"{settings['root']}/current").linked_to)


def releases(vps, settings):
    return sorted(vps.run(f"ls -1 {settings['root']}/releases").stdout.split())


def records(client):
    answer = client.rpc("standin.records.list")
    assert "error" not in answer, answer
    return sorted(r["text"] for r in answer["result"])


def info(client):
    answer = client.rpc("standin.info")
    assert "error" not in answer, answer
    return answer["result"]


def assert_stored_passwords_decrypt(client):
    answer = client.rpc("standin.roles.check_passwords")
    assert "error" not in answer, answer
    assert answer["result"]["count"] >= 1


def assert_file_intact(vps, settings):
    stored = vps.file(f"{settings['root']}/shared/media/{settings['admin_user']}/{STATE['file']}")
    assert stored.exists, "the uploaded file is gone"
    assert stored.sha256sum == STATE["file_sha256"]


def assert_session_survived(user):
    """The session opened at the start still works: sessions live in the database."""
    response = user.request("GET", "/")
    assert response.status == 200, f"the old session was lost: GET / gave {response.status}"


def test_data_on_v1(vps, user, settings):
    assert info(user)["version"] == settings["version"]
    added = user.rpc("standin.records.add", {"text": "made on v1"})
    assert "error" not in added, added
    stored = user.rpc("databases.setup.connect_existing",
                      {"host": "db.example", "port": 5432, "database": "userdb", "role": "reader",
                       "password": "kept 'secret\" $1"})
    assert "error" not in stored, stored
    content = "id,name\n1,kept through upgrades\n"
    STATE["file"] = "day-two.csv"
    STATE["file_sha256"] = hashlib.sha256(content.encode()).hexdigest()
    vps.run(f"printf %s {shlex.quote(content)} > /root/{STATE['file']}")
    response = user.upload_data_file(f"/root/{STATE['file']}")
    assert response.status == 201, response.body
    assert_file_intact(vps, settings)
    STATE["v1_migrations"] = info(user)["migrations"]


def test_failed_upgrade_rolls_back_with_the_database(vps, user, settings, archives):
    run = deploy(BROKEN, archives[BROKEN])
    assert run.returncode != 0, run.stdout[-3000:]
    text = output(run)
    assert f"Upgrade from Mathesar {settings['version']} to {BROKEN} failed and was rolled back" in text, text[-4000:]
    assert "with the database restored from /var/backups/mathesar/" in text, text[-4000:]
    assert "deliberately broken migration" in text, "the cause (the failing migration) is not in the message"
    # v1 serves again, on the database as it was before: 0002 (which had applied before 0099 failed) is gone.
    assert current_release(vps, settings) == settings["version"]
    assert vps.service("mathesar").is_running
    assert info(user)["version"] == settings["version"]
    assert info(user)["migrations"] == STATE["v1_migrations"]
    assert psql(vps, "SELECT to_regclass('public.mathesar_upgrademarker') IS NULL", "mathesar_django") == "t"
    assert records(user) == ["made on v1"]
    assert_session_survived(user)
    assert_file_intact(vps, settings)
    assert_stored_passwords_decrypt(user)
    safety = vps.run("ls -1d /var/backups/mathesar/*_pre-upgrade").stdout.split()
    assert len(safety) == 1, safety


def django_shell(vps, settings, code):
    """Python in the running release's Django shell, with the service's environment."""
    root = settings["root"]
    result = vps.run(f"cd {root}/current && set -a && . {root}/shared/config/mathesar.env && set +a && "
                     f".venv/bin/python manage.py shell -c {shlex.quote(code)}")
    assert result.rc == 0, result.stderr
    return result.stdout


def test_upgrade_to_011_is_refused_while_a_username_is_too_long(vps, settings, archives):
    """0.11's migration limits usernames to 63 characters; the upgrade finds a longer one before any change."""
    name = "u" * 64
    users = "from django.contrib.auth import get_user_model as m; "
    django_shell(vps, settings, users + f"m().objects.create_user({name!r})")
    try:
        run = deploy(V2, archives[V2])
        text = output(run)
        assert run.returncode != 0, text[-3000:]
        assert f"these users have longer names: {name}. Nothing was changed." in text, text[-3000:]
        assert all(c == "0" for c, _ in recap(run.stdout)), run.stdout[-2000:]
        assert current_release(vps, settings) == settings["version"]
    finally:
        django_shell(vps, settings, users + f"m().objects.filter(username={name!r}).delete()")


def test_upgrade_keeps_data_sessions_and_the_previous_release(vps, user, settings, archives):
    run = deploy(V2, archives[V2])
    assert run.returncode == 0, output(run)[-4000:]
    assert SSO_SECRET not in run.stdout + run.stderr
    assert current_release(vps, settings) == V2
    now = info(user)
    assert now["version"] == V2
    assert "0002_standin_extra" in now["migrations"] and "0003_username_max_63" in now["migrations"], now
    assert psql(vps, "SELECT to_regclass('public.mathesar_upgrademarker') IS NOT NULL", "mathesar_django") == "t"
    assert records(user) == ["made on v1"]
    assert_session_survived(user)
    assert_file_intact(vps, settings)
    assert_stored_passwords_decrypt(user)
    with logged_in(vps, settings):
        pass
    # v1 is kept for a rollback; the broken release (it never served) was pruned, with its archive.
    assert releases(vps, settings) == sorted([settings["version"], V2])
    assert not vps.file(f"{settings['root']}/archives/mathesar-{BROKEN}.tar.gz").exists
    # The static files of v2 were in place before current moved to it.
    assert user.request("GET", user.static_bundle_path()).status == 200


def test_011_settings_reach_the_release_from_the_root_only_environment(vps, user, settings):
    """0.11 reads SSO_CONFIG_DICT (0.10's OIDC_CONFIG_DICT is gone), PER_USER_DATABASES_ENABLED and
    FILE_STORAGE_DICT from the service environment that the role keeps in shared/ (root only)."""
    read = user.rpc_result("standin.settings")
    assert read["version"] == V2 and read["sso_source"] == "SSO_CONFIG_DICT", read
    assert read["sso_providers"] == [{"id": "okta", "type": "oidc"}], read
    assert read["per_user_databases"] is True and read["file_storage_protocol"] == "s3", read
    assert read["require_sso_login"] is False and read["data_files_backend"] == "local", read
    env = vps.file(f"{settings['root']}/shared/config/mathesar.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert "SSO_CONFIG_DICT=" in env.content_string and "OIDC_CONFIG_DICT" not in env.content_string
    journal = vps.run(f"journalctl --no-pager -q | grep -c {SSO_SECRET} || true")
    assert journal.stdout.strip() == "0"


def test_second_run_after_the_upgrade_changes_nothing(archives):
    run = deploy(V2, archives[V2])
    hosts = recap(run.stdout)
    assert run.returncode == 0 and hosts and all(c == "0" and f == "0" for c, f in hosts), run.stdout[-3000:]


def test_downgrade_is_refused(vps, user, settings):
    run = deploy(settings["version"], os.environ["MATHESAR_TEST_ARCHIVE"])
    assert run.returncode != 0
    assert "mathesar_app_allow_downgrade" in output(run), output(run)[-3000:]
    assert all(c == "0" for c, _ in recap(run.stdout)), run.stdout[-2000:]
    assert current_release(vps, settings) == V2
    assert info(user)["version"] == V2


def test_backup_then_destroy_then_restore(vps, user, settings, archives, tmp_path):
    assert "error" not in user.rpc("standin.records.add", {"text": "made on v2"})
    fetched = tmp_path / "fetched"
    run = run_playbook("backup.yml", "-e", f"mathesar_app_backup_fetch_dir={fetched}")
    assert run.returncode == 0, output(run)[-3000:]
    found = re.search(r"Backup: (/var/backups/mathesar/([0-9TZ]+_manual))", run.stdout)
    assert found, run.stdout[-2000:]
    path, name = found.groups()
    # The copy on the controller: owner-only folder, every file whole (its SHA256SUMS line matches).
    host_folder = fetched / name_in_group("mathesar_app")
    assert host_folder.stat().st_mode & 0o777 == 0o700
    copy = host_folder / name
    sums = dict(reversed(line.split(None, 1)) for line in (copy / "SHA256SUMS").read_text().splitlines())
    assert {"database.dump", "media.tar.gz", "MANIFEST"} <= set(sums), sums
    for file, digest in sums.items():
        assert hashlib.sha256((copy / file).read_bytes()).hexdigest() == digest, file
    # Root only, and it says which key and version it belongs to.
    assert vps.file("/var/backups/mathesar").mode == 0o700
    listing = vps.run(f"stat -c '%U %a %n' {path} {path}/*").stdout.split("\n")
    assert all(line.startswith("root 600 ") or line.startswith("root 700 ") for line in listing if line), listing
    manifest = dict(line.split("=", 1) for line in vps.file(f"{path}/MANIFEST").content_string.split("\n") if line)
    assert manifest["mathesar_version"] == V2
    assert manifest["secret_key_sha256"] == hashlib.sha256(settings["secret_key"].encode()).hexdigest()
    assert {"database.dump", "media.tar.gz"} <= set(vps.run(f"ls {path}").stdout.split())

    # Destroy: the database is dropped and the media deleted; the layout playbook then makes a fresh, empty
    # Mathesar (new database, migrations, admin), as on a replacement server. The same run keeps one release only
    # (mathesar_app_releases_keep=1): pruning is checked here, which saves a playbook run.
    assert vps.run("systemctl stop mathesar").rc == 0
    psql(vps, "DROP DATABASE mathesar_django WITH (FORCE)")
    assert vps.run(f"rm -rf {settings['root']}/shared/media/*").rc == 0
    assert releases(vps, settings) == sorted([settings["version"], V2])
    run = deploy(V2, archives[V2], "-e", "mathesar_app_releases_keep=1")
    assert run.returncode == 0, output(run)[-3000:]
    with logged_in(vps, settings) as fresh:
        assert records(fresh) == [], "the data was not really destroyed"
    assert not vps.file(f"{settings['root']}/shared/media/{settings['admin_user']}/{STATE['file']}").exists
    # Pruned to the limit: v1's release and its archive are gone, the running v2 stays.
    assert releases(vps, settings) == [V2]
    assert not vps.file(f"{settings['root']}/archives/mathesar-{settings['version']}.tar.gz").exists
    assert current_release(vps, settings) == V2

    # A restore under another SECRET_KEY is refused before anything changes.
    run = run_playbook("restore.yml", "-e",
                       f"mathesar_app_restore_backup={name}", "-e", "mathesar_app_secret_key=" + "k" * 50)
    assert run.returncode != 0
    assert "was made with another SECRET_KEY" in output(run), output(run)[-3000:]
    assert settings["secret_key"] not in output(run)

    run = run_playbook("restore.yml", "-e",
                       f"mathesar_app_restore_backup={name}")
    assert run.returncode == 0, output(run)[-4000:]
    with logged_in(vps, settings) as restored:
        assert records(restored) == ["made on v1", "made on v2"]
        assert_stored_passwords_decrypt(restored)
    assert_file_intact(vps, settings)
    owner = vps.file(f"{settings['root']}/shared/media/{settings['admin_user']}/{STATE['file']}").user
    assert owner == "mathesar"
    assert len(vps.run("ls -1d /var/backups/mathesar/*_pre-restore").stdout.split()) == 1


def test_scheduled_backup_runs_from_the_timer_unit(vps):
    assert vps.service("mathesar-backup.timer").is_enabled
    assert vps.service("mathesar-backup.timer").is_running
    before = vps.run("ls -1d /var/backups/mathesar/*_scheduled 2>/dev/null").stdout.split()
    assert vps.run("systemctl start mathesar-backup.service").rc == 0
    after = vps.run("ls -1d /var/backups/mathesar/*_scheduled").stdout.split()
    assert len(after) == len(before) + 1, after
    assert vps.run(f"cd {after[-1]} && sha256sum --quiet -c SHA256SUMS").rc == 0


def _other_site(vps):
    """The admin's other nginx site. `systemctl reload nginx` returns once the signal is sent, before nginx listens
    on a new address: refused connections are tried again for up to 10 s."""
    return vps.check_output("curl -sS --retry 10 --retry-connrefused --retry-delay 1 http://127.0.0.1:8081/")


def test_uninstall_keeps_the_data_and_a_reinstall_picks_it_up(vps, settings, archives):
    nginx = settings["proxy"] == "nginx"
    if nginx:
        # Another site of the admin's own on the same nginx, which the uninstall must leave serving.
        vps.check_output(f"printf '%s\\n' 'server {{' '  listen 127.0.0.1:8081;' '  return 200 \"other site\";' "
                         f"'}}' > {OTHER_SITE} && nginx -t -q && systemctl reload nginx")
        assert _other_site(vps) == "other site"
    run = run_playbook("uninstall.yml")
    assert run.returncode == 0, output(run)[-3000:]
    assert "Kept: media /opt/mathesar/shared/media" in output(run), run.stdout[-3000:]
    assert "Kept databases mathesar_django" in output(run), run.stdout[-3000:]
    # The app, its unit and the site are gone...
    assert not vps.file("/etc/systemd/system/mathesar.service").exists
    assert not vps.file("/etc/systemd/system/mathesar.socket").exists
    assert not vps.socket("tcp://127.0.0.1:8000").is_listening
    assert not vps.file(f"{settings['root']}/releases").exists
    assert not vps.file(f"{settings['root']}/tools").exists
    if nginx:
        # Only Mathesar's site goes: nginx keeps running for any other site it serves.
        assert vps.service("nginx").is_running
        assert not vps.file("/etc/nginx/conf.d/mathesar.conf").exists
        assert _other_site(vps) == "other site"
    else:
        assert not vps.service("caddy").is_running
    assert not vps.socket("tcp://0.0.0.0:443").is_listening
    assert not vps.file("/etc/systemd/system/mathesar-backup.timer").exists
    # ...the data is not.
    assert psql(vps, "SELECT count(*) FROM mathesar_record", "mathesar_django") == "2"
    assert_file_intact(vps, settings)
    assert vps.run("ls -1d /var/backups/mathesar/*_manual").stdout.strip()

    other = []
    if nginx:
        # The re-install onto an nginx that serves other sites (reverse_proxy_nginx_other_sites): Debian's default
        # site enabled again, as on a server that had it, and the site above. The role adds only Mathesar's file.
        vps.check_output("ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default "
                         "&& systemctl reload nginx")
        other = ["-e", "reverse_proxy_nginx_other_sites=true"]
        before = vps.file(OTHER_SITE).sha256sum
    run = deploy(V2, archives[V2], *other)
    assert run.returncode == 0, output(run)[-3000:]
    with logged_in(vps, settings) as back:
        assert records(back) == ["made on v1", "made on v2"]
        assert_stored_passwords_decrypt(back)
    assert_file_intact(vps, settings)
    if nginx:
        assert vps.file("/etc/nginx/sites-enabled/default").is_symlink
        assert vps.file(OTHER_SITE).sha256sum == before
        assert _other_site(vps) == "other site"
        # Another name goes to the server's own default site (Debian's welcome page), not to a refusal.
        welcome = vps.run("curl -sS -H 'Host: other.example' http://127.0.0.1/")
        assert welcome.rc == 0 and "Welcome to nginx" in welcome.stdout, welcome.stdout + welcome.stderr
