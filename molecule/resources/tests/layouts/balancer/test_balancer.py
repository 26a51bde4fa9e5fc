"""Checks only the load-balancer layout has: requests spread over the app hosts, a browser kept on one, gunicorn
reachable from the balancer alone, one scheduled backup, and requests that survive a configuration re-run and the
loss of an app host. Load loops run on the balancer against its own site, bounded in time."""

import subprocess
import time
import uuid
import warnings

import pytest
from conftest import (REPO, SITE_CA, LoadLoop, gunicorn_address, host_in_group, hosts_in_group, is_primary,
                      pg_unit, psql, run_converge, tcp_connects)
from mathesar_client import Client

# The release the upgrade check goes to from the scenario's 0.10: a 0.11 stand-in, with 0.11's migration.
UPGRADE = "0.11.0-standin3"
UPGRADE_MIGRATION = "0003_username_max_63"

# The tests that log in (the admin fixture) do so through the balancer's site, from the balancer.
testinfra_hosts = ["mathesar_lb"]


@pytest.fixture(scope="module")
def lb():
    return hosts_in_group("mathesar_lb")[0]


def _served_by(app_hosts, marker):
    """How many requests carrying marker each app host's gunicorn logged (its access log is in the journal)."""
    counts = {}
    for app in app_hosts:
        log = app.run("journalctl -u mathesar --no-pager -n 5000 -o cat").stdout
        counts[app.backend.get_hostname()] = log.count(marker)
    return counts


def _all_answer(lb, app_hosts, settings):
    """Every app host answers through the balancer again (active health checks put a returning host back)."""
    for _ in range(60):
        if all(lb.run(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'X-Forwarded-Proto: https' "
                      f"-H 'Host: {settings['domain']}' http://{gunicorn_address(app)}/auth/login/").stdout == "200"
               for app in app_hosts):
            return True
        time.sleep(2)
    return False


def _started_at(names):
    """When docker last started each container."""
    shown = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", *names], check=True,
                           capture_output=True, text=True).stdout.split()
    return dict(zip(names, shown))


def test_requests_spread_over_both_app_hosts(lb, app_hosts, settings):
    # Fresh clients, no cookie: the sticky policy picks an app host for each (at random until the cookie is set).
    marker = f"spread-{uuid.uuid4().hex}"
    for n in range(24):
        lb.run(f"curl -s -o /dev/null --cacert {SITE_CA} --resolve {settings['domain']}:443:127.0.0.1 "
               f"'https://{settings['domain']}/auth/login/?{marker}={n}'")
    counts = _served_by(app_hosts, marker)
    assert sum(counts.values()) == 24 and all(counts.values()), counts


def test_a_browser_stays_on_one_app_host(lb, app_hosts, settings):
    """A file uploaded for an import lands in the media folder of the app host that took it: the import that
    follows must reach the same host. The balancer's cookie keeps a browser there."""
    browser = Client(lb, settings["domain"], SITE_CA)
    try:
        first = browser.request("GET", "/auth/login/")
        assert first.status == 200 and "mathesar_app" in first.cookies, first.headers
        marker = f"sticky-{uuid.uuid4().hex}"
        for n in range(12):
            assert browser.request("GET", f"/auth/login/?{marker}={n}").status == 200
    finally:
        browser.close()
    counts = _served_by(app_hosts, marker)
    assert sorted(counts.values()) == [0, 12], counts


def test_gunicorn_admits_the_balancer_alone(lb, outsider, app_hosts):
    for app in app_hosts:
        address, port = gunicorn_address(app).rsplit(":", 1)
        assert tcp_connects(lb, address, port), f"the balancer cannot reach {address}:{port}"
        assert not tcp_connects(outsider, address, port), f"the outsider reaches gunicorn on {address}:{port}"
    # Nor the site's own ports on an app host: it serves the balancer only.
    for app in app_hosts:
        address = gunicorn_address(app).rsplit(":", 1)[0]
        assert not tcp_connects(outsider, address, 443), f"the outsider reaches port 443 on {address}"


def test_app_hosts_run_no_proxy_of_their_own(app_hosts, settings):
    for app in app_hosts:
        assert not app.package(settings["proxy"]).is_installed, app.backend.get_hostname()


def test_one_scheduled_backup_timer_across_the_app_hosts(app_hosts):
    enabled = [app.backend.get_hostname() for app in app_hosts if app.service("mathesar-backup.timer").is_enabled]
    primary = [app.backend.get_hostname() for app in app_hosts if is_primary(app)]
    assert len(primary) == 1 and enabled == primary, (enabled, primary)


def test_every_migration_was_applied_once(app_hosts):
    """The primary app host migrates; the others only check. Two hosts migrating at once would each record the
    migrations they applied (django_migrations has no unique key): no migration may be there twice, and every app
    host's release finds none left to apply."""
    db = host_in_group("mathesar_db")
    twice = psql(db, "SELECT app, name FROM django_migrations GROUP BY app, name HAVING count(*) > 1",
                 database="mathesar_django")
    assert twice == "", twice
    assert int(psql(db, "SELECT count(*) FROM django_migrations WHERE app = 'mathesar'",
                    database="mathesar_django")) > 0
    for app in app_hosts:
        check = app.run("cd /opt/mathesar/current && set -a && . /opt/mathesar/shared/config/mathesar.env && set +a "
                        "&& .venv/bin/python manage.py migrate --check --noinput")
        assert check.rc == 0, (app.backend.get_hostname(), check.stdout, check.stderr)


def test_a_configuration_rerun_drops_no_request(lb, app_hosts, admin, settings):
    """A re-run that changes Mathesar's configuration restarts gunicorn on every app host; requests through the
    balancer wait for it (systemd holds the sockets) instead of failing, and a logged-in session goes on."""
    before = {app.backend.get_hostname(): app.check_output("systemctl show -p MainPID --value mathesar")
              for app in app_hosts}
    load = LoadLoop(lb, settings["domain"], seconds=240)
    try:
        run = run_converge("--tags", "mathesar_app", "-e", "mathesar_app_conn_max_age=59")
    finally:
        load.stop()
    codes = load.codes()
    assert run.returncode == 0, run.stdout[-3000:]
    after = {app.backend.get_hostname(): app.check_output("systemctl show -p MainPID --value mathesar")
             for app in app_hosts}
    assert all(after[name] != before[name] for name in before), "gunicorn did not restart on every app host"
    failed = [code for code in codes if code != "200"]
    assert len(codes) >= 16 and not failed, (len(codes), sorted(set(failed)))
    assert "error" not in admin.rpc("databases.configured.list")
    # Back to the inventory's configuration (the idempotence of the later checks starts from it).
    back = run_converge("--tags", "mathesar_app")
    assert back.returncode == 0, back.stdout[-3000:]


def test_a_lost_app_host_drops_no_request(lb, app_hosts, admin, settings):
    """One app host's container is killed (no shutdown: a lost host) while clients load the site through the
    balancer: the balancer retries the requests that hit the dead host on the other one, and leaves it out until
    its health check passes again. Then it comes back by itself, with no manual step."""
    lost = next(app for app in app_hosts if not is_primary(app))
    name = lost.backend.get_hostname()
    load = LoadLoop(lb, settings["domain"], seconds=30)
    time.sleep(5)
    subprocess.run(["docker", "kill", name], check=True, capture_output=True)
    codes = load.codes()
    failed = [code for code in codes if code != "200"]
    try:
        assert len(codes) >= 16 and not failed, (len(codes), sorted(set(failed)))
        assert "error" not in admin.rpc("databases.configured.list")
    finally:
        subprocess.run(["docker", "start", name], check=True, capture_output=True)
        for _ in range(60):
            if lost.run("systemctl is-system-running").stdout.strip() in ("running", "degraded"):
                break
            time.sleep(2)
    assert _all_answer(lb, app_hosts, settings), "the app host did not come back"
    # Back in the pool: fresh clients reach it again.
    marker = f"back-{uuid.uuid4().hex}"
    for _ in range(30):
        lb.run(f"curl -s -o /dev/null --cacert {SITE_CA} --resolve {settings['domain']}:443:127.0.0.1 "
               f"'https://{settings['domain']}/auth/login/?{marker}'")
        if _served_by([lost], marker)[name]:
            break
        time.sleep(2)
    assert _served_by([lost], marker)[name], "the balancer did not send requests to the returning host"


def test_a_database_restart_under_load_is_reported(lb, admin, settings):
    """PostgreSQL restarts while clients load the site through the balancer. Every app host loses its database
    connections at once, so some requests fail (no app host is better off): the count is reported as a warning in
    the summary, not held to 0. The site must answer again by itself, and a logged-in session goes on."""
    db = host_in_group("mathesar_db")
    load = LoadLoop(lb, settings["domain"], seconds=20)
    time.sleep(5)
    assert db.run(f"systemctl restart {pg_unit(db)}").rc == 0
    codes = load.codes()
    failed = [code for code in codes if code != "200"]
    warnings.warn(f"PostgreSQL restart under load through the balancer: {len(failed)} of {len(codes)} requests "
                  f"failed ({', '.join(sorted(set(failed))) or 'none'})")
    assert len(codes) >= 16, len(codes)
    for _ in range(30):
        if lb.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {SITE_CA} --resolve "
                  f"{settings['domain']}:443:127.0.0.1 https://{settings['domain']}/auth/login/").stdout == "200":
            break
        time.sleep(1)
    assert "error" not in admin.rpc("databases.configured.list")


def test_every_host_rebooted_at_once_comes_back_with_its_data(lb, app_hosts, admin, settings):
    """All four hosts restart at once (a power cut of the whole deployment): with no manual step the site answers
    through the balancer again, the admin's session and Mathesar's records are still there."""
    before = admin.rpc_result("databases.configured.list")
    names = [host.backend.get_hostname() for host in [lb, *app_hosts, host_in_group("mathesar_db")]]
    started = _started_at(names)
    subprocess.run(["docker", "restart", "--time", "20", *names], check=True, capture_output=True)
    restarted = _started_at(names)
    assert all(restarted[name] != started[name] for name in names), (started, restarted)
    for _ in range(90):
        if lb.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {SITE_CA} --resolve "
                  f"{settings['domain']}:443:127.0.0.1 https://{settings['domain']}/auth/login/").stdout == "200":
            break
        time.sleep(2)
    assert _all_answer(lb, app_hosts, settings), "not every app host answers after the reboot"
    assert admin.rpc_result("databases.configured.list") == before


def test_an_upgrade_under_load_migrates_once_and_its_cost_is_reported(lb, app_hosts, admin, settings, standin_only,
                                                                    tmp_path):
    """A version upgrade while clients load the site through the balancer. It is not rolling yet: every app host
    stops (its socket too), the primary backs the database up and migrates, every host starts the new release; the
    balancer retries for up to 10 s, then answers 502, so requests fail while the backup and the migrations run. The
    count is reported as a warning. Every app host runs the new release after it, its new migration is recorded
    once, and the logged-in session goes on."""
    archive = tmp_path / f"mathesar-{UPGRADE}.tar.gz"
    subprocess.run([str(REPO / "tests/standin/build.sh"), UPGRADE, str(archive)], check=True, capture_output=True)
    load = LoadLoop(lb, settings["domain"], seconds=600)
    try:
        run = run_converge("-e", f"mathesar_app_version={UPGRADE}", "-e", f"mathesar_app_release_archive={archive}")
    finally:
        load.stop()
    codes = load.codes()
    # ansible-core 2.19 prints a task's failure on stderr.
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-4000:]
    failed = [code for code in codes if code != "200"]
    warnings.warn(f"Upgrade (not rolling) under load through the balancer: {len(failed)} of {len(codes)} requests "
                  f"failed ({', '.join(sorted(set(failed))) or 'none'})")
    for app in app_hosts:
        assert app.file("/opt/mathesar/current").linked_to == f"/opt/mathesar/releases/{UPGRADE}", \
            app.backend.get_hostname()
    db = host_in_group("mathesar_db")
    assert psql(db, f"SELECT count(*) FROM django_migrations WHERE app = 'mathesar' AND name = '{UPGRADE_MIGRATION}'",
                database="mathesar_django") == "1"
    assert psql(db, "SELECT app, name FROM django_migrations GROUP BY app, name HAVING count(*) > 1",
                database="mathesar_django") == ""
    assert "error" not in admin.rpc("databases.configured.list")
