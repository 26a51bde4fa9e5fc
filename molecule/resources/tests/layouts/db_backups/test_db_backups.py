"""The database host's pgBackRest backups (separate-hosts layout with a backup host), in order: both repositories
hold a backup and only their owner can read them; the status playbook reports and fails on a failed backup unit;
a wrong key is refused without a trace of either key; a certificate about to expire is renewed; a point-in-time
restore; then the DB host is lost entirely and rebuilt on a new container from the backup host's copy.

The tests share one installation and run in file order, after every other test of the scenario (the last one
replaces the DB host's container).
"""

import datetime
import json
import os
import shlex
import subprocess
import time
import uuid

import pytest
from conftest import (SITE_CA, TEST_PKI, _load_vault, host_in_group, name_in_group, not_after, output, psql,
                      run_playbook, sign_short_lived_certificate)
from mathesar_client import Client

STANZA = "mathesar"
STATE = {}


@pytest.fixture(scope="module")
def db():
    return host_in_group("mathesar_db")


@pytest.fixture(scope="module")
def backup():
    return host_in_group("mathesar_backup")


@pytest.fixture(scope="module")
def app():
    return host_in_group("mathesar_app")


@pytest.fixture(scope="module")
def cipher_pass():
    return _load_vault()["vault_pgbackrest_cipher_pass"]


def info(host, *args):
    result = host.run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} --log-level-console=off "
                      f"{' '.join(args)} info --output=json")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def logged_in(app, settings):
    c = Client(app, settings["domain"], SITE_CA)
    response = c.login(settings["admin_user"], settings["admin_password"])
    assert response.status == 302 and "sessionid" in response.cookies, "admin login failed"
    return c


def record_count(c, table_name):
    """The rows Mathesar lists in a table of the test's user database (tables.list, then records.list)."""
    database_id = STATE["database_id"]
    public = next(s["oid"] for s in c.rpc_result("schemas.list", {"database_id": database_id})
                  if s["name"] == "public")
    table = next(t["oid"] for t in c.rpc_result("tables.list", {"schema_oid": public, "database_id": database_id})
                 if t["name"] == table_name)
    return c.rpc_result("records.list", {"table_oid": table, "database_id": database_id, "limit": 10})["count"]


def wait_archived(db, timeout=60):
    """Close the current WAL segment and wait until PostgreSQL has archived it (into both repositories)."""
    segment = psql(db, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    psql(db, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + timeout
    while psql(db, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment:
        assert time.monotonic() < deadline, f"WAL segment {segment} was not archived within {timeout} s"
        time.sleep(1)
    return segment


def test_both_repositories_hold_an_encrypted_backup(db, backup):
    stanza = info(db)
    assert stanza["status"]["message"] == "ok", stanza["status"]
    assert {repo["key"]: repo["status"]["message"] for repo in stanza["repo"]} == {1: "ok", 2: "ok"}
    assert {repo["cipher"] for repo in stanza["repo"]} == {"aes-256-cbc"}
    assert {b["database"]["repo-key"] for b in stanza["backup"]} == {1, 2}
    # The copy lives on the backup host, and it sees the same stanza.
    assert backup.file(f"/srv/pgbackrest/backup/{STANZA}/backup.info").exists
    assert info(backup)["backup"], "the backup host lists no backup"
    # WAL is archived continuously, and nothing failed since archiving was turned on.
    assert psql(db, "SELECT current_setting('archive_mode'), failed_count FROM pg_stat_archiver") == "on|0"


@pytest.mark.parametrize("group, path", [("mathesar_db", "/var/lib/pgbackrest"),
                                         ("mathesar_backup", "/srv/pgbackrest")])
def test_repository_is_readable_by_its_owner_only(group, path):
    host = host_in_group(group)
    folder = host.file(path)
    assert (folder.user, folder.group, folder.mode) == ("postgres", "postgres", 0o750)
    assert host.run(f"find {path} ! -type l -perm /o+rwx | head -1").stdout == ""
    assert host.run(f"runuser -u nobody -- ls {path}").rc != 0
    conf = host.file("/etc/pgbackrest/pgbackrest.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "postgres", 0o640)
    assert host.file("/etc/pgbackrest/tls/host.key").mode == 0o640


def test_the_key_is_in_no_log_and_no_repository_file(db, backup, cipher_pass):
    for host in (db, backup):
        needle = shlex.quote(cipher_pass)
        assert host.run(f"grep -rlF -- {needle} /var/log /srv /var/lib/pgbackrest 2>/dev/null").stdout == ""
        assert host.run(f"journalctl --no-pager -o cat | grep -cF -- {needle}").stdout.strip() == "0"


def test_status_shows_each_repository_and_fails_on_a_failed_backup_unit(db):
    status = run_playbook("backup_status.yml")
    assert status.returncode == 0, output(status)[-3000:]
    text = output(status)
    assert "repo: 1" in text and "repo: 2" in text and "archive_lag_seconds: 0" in text, text[-3000:]
    # A backup that fails leaves its unit failed, and the status playbook fails and names it.
    db.run("systemctl start pgbackrest-backup@bogus.service")
    try:
        assert db.run("systemctl is-failed pgbackrest-backup@bogus.service").stdout.strip() == "failed"
        status = run_playbook("backup_status.yml")
        assert status.returncode != 0
        assert "pgbackrest-backup@bogus.service" in output(status), output(status)[-3000:]
    finally:
        db.run("systemctl reset-failed 'pgbackrest-backup@*'")


def test_a_wrong_key_is_refused_and_shown_nowhere(db, cipher_pass):
    before = db.file("/etc/pgbackrest/pgbackrest.conf").sha256sum
    wrong = "not-the-key-" + uuid.uuid4().hex
    # The pgbackrest role's own tasks only (its check refuses the key before pgbackrest.conf is written); the other
    # roles' tasks have nothing to do with the key.
    run = run_playbook("converge.yml", "--tags", "pgbackrest", "-e", f"pgbackrest_cipher_pass={wrong}")
    text = output(run)
    assert run.returncode != 0, text[-2000:]
    assert "does not open repo1" in text, text[-3000:]
    assert db.file("/etc/pgbackrest/pgbackrest.conf").sha256sum == before
    assert wrong not in text and cipher_pass not in text


def test_a_certificate_about_to_expire_is_renewed(db, backup):
    """The backup host's certificate gets one valid for 5 more days (as after 820 days); the next run of the
    pgbackrest role's TLS tasks signs a new one, installs it and restarts the TLS server, and WAL still reaches both
    repositories."""
    name = name_in_group("mathesar_backup")
    pki = TEST_PKI / "pgbackrest"
    crt = pki / f"{name}.crt"
    short = sign_short_lived_certificate(pki, name)
    installed = backup.run(f"printf %s {shlex.quote(short.decode())} > /etc/pgbackrest/tls/host.crt && "
                           "systemctl restart pgbackrest-server.service")
    assert installed.rc == 0, installed.stderr

    run = run_playbook("converge.yml", "--tags", "pgbackrest_preflight,pgbackrest_tls")
    assert run.returncode == 0, output(run)[-3000:]
    renewed = crt.read_bytes()
    assert not_after(renewed) > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=800)
    assert backup.file("/etc/pgbackrest/tls/host.crt").content_string == renewed.decode()
    address = backup.run("ss -Htln 'sport = :8432'").stdout.split()[3].rsplit(":", 1)[0]
    served = db.run(f"openssl s_client -connect {address}:8432 </dev/null 2>/dev/null | openssl x509").stdout
    assert served and not_after(served.encode()) == not_after(renewed)
    check = db.run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} --log-level-console=warn check")
    assert check.rc == 0, check.stderr


def test_point_in_time_restore(db, app, settings):
    """A user database created through Mathesar's RPC (as its UI does); row A, time T, row B; restore to T."""
    c = logged_in(app, settings)
    try:
        database = f"mdt_pitr_{uuid.uuid4().hex[:6]}"
        c.rpc_result("databases.setup.create_new", {"database": database, "sample_data": [], "nickname": "pitr"})
        STATE["database"] = database
        STATE["database_id"] = next(d["id"] for d in c.rpc_result("databases.configured.list")
                                    if d["name"] == database)
    finally:
        c.close()
    # As Mathesar's role, which owns the database (Mathesar lists the table through it afterwards).
    psql(db, "SET ROLE mathesar; CREATE TABLE ledger (entry text); INSERT INTO ledger VALUES ('A')", database)
    wait_archived(db)
    target = psql(db, "SELECT now()")
    time.sleep(1)
    psql(db, "INSERT INTO ledger VALUES ('B')", database)
    wait_archived(db)

    refused = run_playbook("restore_database.yml", "-e", f"pgbackrest_restore_target='{target}'")
    assert refused.returncode != 0 and "pgbackrest_restore_force=true" in output(refused), output(refused)[-2000:]
    assert psql(db, "SELECT string_agg(entry, ',' ORDER BY entry) FROM ledger", database) == "A,B"

    restored = run_playbook("restore_database.yml", "-e", f"pgbackrest_restore_target='{target}'",
                            "-e", "pgbackrest_restore_force=true")
    assert restored.returncode == 0, output(restored)[-3000:]
    assert psql(db, "SELECT string_agg(entry, ',' ORDER BY entry) FROM ledger", database) == "A"
    # Mathesar reads the restored database through its RPC again.
    c = logged_in(app, settings)
    try:
        assert record_count(c, "ledger") == 1
    finally:
        c.close()


def _recreate(name):
    """Replace a test container with a new, empty one of the same image, name, address and flags."""
    spec = json.loads(subprocess.run(["docker", "inspect", name], check=True, capture_output=True,
                                     text=True).stdout)[0]
    config, host_config = spec["Config"], spec["HostConfig"]
    subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    command = ["docker", "run", "-d", "--name", name, "--hostname", config["Hostname"],
               "--cgroupns", host_config["CgroupnsMode"], "--stop-signal", config["StopSignal"],
               "--label", "owner=molecule"]
    command += [arg for cap in host_config["CapAdd"] for arg in ("--cap-add", cap)]
    command += [arg for opt in host_config["SecurityOpt"] for arg in ("--security-opt", opt)]
    command += [arg for bind in host_config["Binds"] for arg in ("-v", bind)]
    command += [arg for path in host_config["Tmpfs"] for arg in ("--tmpfs", path)]
    (network, settings), = spec["NetworkSettings"]["Networks"].items()
    command += ["--network", network, "--ip", settings["IPAMConfig"]["IPv4Address"]]
    subprocess.run(command + [config["Image"], *config["Cmd"]], check=True, capture_output=True)


def test_a_lost_db_host_is_rebuilt_from_the_backup_host(app, settings):
    """Write rows through Mathesar, lose the DB host's container entirely, provision a new one and restore it from
    the backup host: Mathesar logs in again, the user database holds its rows, media files are unchanged."""
    c = logged_in(app, settings)
    try:
        upload_path = f"/root/{uuid.uuid4().hex[:8]}.csv"
        app.run(f"printf 'item,qty\\nwidget,3\\ngadget,5\\n' > {upload_path}")
        upload = c.upload_data_file(upload_path)
        assert upload.status == 201, upload.body
        public = next(s["oid"] for s in c.rpc_result("schemas.list", {"database_id": STATE["database_id"]})
                      if s["name"] == "public")
        c.rpc_result("tables.import", {"data_file_id": json.loads(upload.body)["id"], "table_name": "stock",
                                       "schema_oid": public, "database_id": STATE["database_id"]})
    finally:
        c.close()
    db = host_in_group("mathesar_db")
    wait_archived(db)
    media = app.run(f"cd {settings['root']}/shared/media && find . -type f -print0 | sort -z | xargs -0 sha256sum")
    assert media.rc == 0 and media.stdout.strip(), media.stderr

    name = name_in_group("mathesar_db")
    _recreate(name)
    prepared = run_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "..", "resources",
                                         "prepare.yml"), "--limit", name)
    assert prepared.returncode == 0, output(prepared)[-2000:]
    db = host_in_group("mathesar_db")
    assert db.run("test -d /var/lib/postgresql").rc != 0, "the new container is not empty"

    started = time.monotonic()
    restored = run_playbook("restore_database.yml")
    STATE["rto_seconds"] = round(time.monotonic() - started)
    assert restored.returncode == 0, output(restored)[-3000:]
    assert "repo2: restore backup set" in output(restored), output(restored)[-2000:]

    assert psql(db, "SELECT string_agg(entry, ',' ORDER BY entry) FROM ledger", STATE["database"]) == "A"
    assert psql(db, "SELECT count(*) FROM stock", STATE["database"]) == "2"
    c = logged_in(app, settings)
    try:
        assert record_count(c, "stock") == 2
    finally:
        c.close()
    again = app.run(f"cd {settings['root']}/shared/media && find . -type f -print0 | sort -z | xargs -0 sha256sum")
    assert again.stdout == media.stdout

    # The site playbook completes the new host (hardening, the schedule) and the backups go on from it.
    converged = run_playbook("converge.yml")
    assert converged.returncode == 0, output(converged)[-3000:]
    check = db.run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} --log-level-console=warn check")
    assert check.rc == 0, check.stderr
    print(f"RTO: restore_database.yml onto a new DB host took {STATE['rto_seconds']} s")
