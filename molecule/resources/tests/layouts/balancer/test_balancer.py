"""Checks only the load-balancer layout has: requests spread over the app hosts, a browser kept on one, gunicorn
reachable from the balancer alone, one scheduled backup, and requests that survive a rolling configuration re-run,
the loss of an app host and a rolling upgrade (one that fails on an app host, then goes on). Load loops run on the
balancer against its own site, bounded in time."""

import subprocess
import time
import uuid
import warnings

import pytest
from conftest import (REPO, SITE_CA, LoadLoop, gunicorn_address, gunicorn_status, host_in_group, hosts_in_group,
                      is_primary, output, pg_unit, psql, run_converge, served_by, site_status, tcp_connects)
from mathesar_client import Client

# The release the upgrade check goes to from the scenario's 0.10: a 0.11 stand-in, with 0.11's migration.
UPGRADE = "0.11.0-standin3"
UPGRADE_MIGRATION = "0003_username_max_63"

# The tests that log in (the admin fixture) do so through the balancer's site, from the balancer.
testinfra_hosts = ["mathesar_lb"]


@pytest.fixture(scope="module")
def lb():
    return hosts_in_group("mathesar_lb")[0]


def _all_answer(lb, app_hosts, settings):
    """Every app host's gunicorn answers the balancer again (its active health check then puts a returning host
    back)."""
    addresses = [gunicorn_address(app) for app in app_hosts]
    for _ in range(60):
        if all(gunicorn_status(lb, address, settings["domain"]) == "200" for address in addresses):
            return True
        time.sleep(2)
    return False


def _site_answers(lb, settings, tries, pause):
    """Wait until the site answers through the balancer (at most tries x pause seconds)."""
    for _ in range(tries):
        if site_status(lb, settings["domain"]) == "200":
            return
        time.sleep(pause)


def _recorded_twice(db):
    """The migrations django_migrations holds more than once (it has no unique key)."""
    return psql(db, "SELECT app, name FROM django_migrations GROUP BY app, name HAVING count(*) > 1",
                database="mathesar_django")


def _failed(codes):
    """The answers of a load loop that are not 200 (curl's 000: no answer at all)."""
    return [code for code in codes if code != "200"]


def _none_failed(codes):
    """A load loop that ran (at least 16 requests) and had every request answered 200."""
    failed = _failed(codes)
    assert len(codes) >= 16 and not failed, (len(codes), sorted(set(failed)))


def _report(disruption, codes):
    """A disruption's failed requests, as a warning in pytest's summary (reported, not held to a number)."""
    failed = _failed(codes)
    warnings.warn(f"{disruption} under load through the balancer: {len(failed)} of {len(codes)} requests failed "
                  f"({', '.join(sorted(set(failed))) or 'none'})")


def _no_error_answer(disruption, codes):
    """Through a rolling upgrade every answer is 200: an HTTP error (a 502 from the balancer, a 500 from Django)
    fails the check. A request with no answer at all (curl's 000) is reported: a Caddy reload, which draining takes,
    can reset a connection now and then (docs/load-balancer.md)."""
    assert len(codes) >= 16, len(codes)
    assert not [code for code in codes if code not in ("200", "000")], sorted(set(codes))
    _report(disruption, codes)


def _started_at(names):
    """When docker last started each container."""
    shown = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", *names], check=True,
                           capture_output=True, text=True).stdout.split()
    return dict(zip(names, shown))


def test_requests_spread_over_both_app_hosts(lb, app_hosts, settings):
    # Fresh clients, no cookie: the sticky policy picks an app host for each (at random until the cookie is set).
    marker = f"spread-{uuid.uuid4().hex}"
    for n in range(24):
        site_status(lb, settings["domain"], f"?{marker}={n}")
    counts = served_by(app_hosts, marker)
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
    counts = served_by(app_hosts, marker)
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
    twice = _recorded_twice(db)
    assert twice == "", twice
    assert int(psql(db, "SELECT count(*) FROM django_migrations WHERE app = 'mathesar'",
                    database="mathesar_django")) > 0
    for app in app_hosts:
        check = app.run("cd /opt/mathesar/current && set -a && . /opt/mathesar/shared/config/mathesar.env && set +a "
                        "&& .venv/bin/python manage.py migrate --check --noinput")
        assert check.rc == 0, (app.backend.get_hostname(), check.stdout, check.stderr)


def test_a_configuration_rerun_drops_no_request(lb, app_hosts, admin, settings):
    """A re-run that changes Mathesar's configuration alone restarts gunicorn on every app host, one at a time and
    in place (systemd holds the socket; the balancer does not reload): no request through the balancer fails, and a
    logged-in session goes on."""
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
    _none_failed(codes)
    assert "error" not in admin.rpc("databases.configured.list")
    # Left on 59: the upgrade's runs below (the last checks) go back to the inventory's configuration as well.


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
    try:
        _none_failed(codes)
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
        site_status(lb, settings["domain"], f"?{marker}")
        if served_by([lost], marker)[name]:
            break
        time.sleep(2)
    assert served_by([lost], marker)[name], "the balancer did not send requests to the returning host"


def test_a_database_restart_under_load_is_reported(lb, admin, settings):
    """PostgreSQL restarts while clients load the site through the balancer. Every app host loses its database
    connections at once, so some requests fail (no app host is better off): the count is reported as a warning in
    the summary, not held to 0. The site must answer again by itself, and a logged-in session goes on."""
    db = host_in_group("mathesar_db")
    load = LoadLoop(lb, settings["domain"], seconds=20)
    time.sleep(5)
    assert db.run(f"systemctl restart {pg_unit(db)}").rc == 0
    codes = load.codes()
    _report("PostgreSQL restart", codes)
    assert len(codes) >= 16, len(codes)
    _site_answers(lb, settings, tries=30, pause=1)
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
    _site_answers(lb, settings, tries=90, pause=2)
    assert _all_answer(lb, app_hosts, settings), "not every app host answers after the reboot"
    assert admin.rpc_result("databases.configured.list") == before


# A fault of app2's own (test only): its gunicorn refuses to start on the upgrade's release, so the rolling switch
# fails there after app1 (the primary, first in the inventory) switched.
REFUSE_DROPIN = "/etc/systemd/system/mathesar.service.d/test-refuse-upgrade.conf"


@pytest.fixture(scope="module")
def upgrade_archive(tmp_path_factory):
    archive = tmp_path_factory.mktemp("upgrade") / f"mathesar-{UPGRADE}.tar.gz"
    subprocess.run([str(REPO / "tests/standin/build.sh"), UPGRADE, str(archive)], check=True, capture_output=True)
    return archive


def _upgrade(archive):
    return run_converge("-e", f"mathesar_app_version={UPGRADE}", "-e", f"mathesar_app_release_archive={archive}")


def _release(app):
    return app.file("/opt/mathesar/current").linked_to


def _balanced_over(lb, app_hosts):
    """The app hosts' addresses on the balancer's reverse_proxy line (a drained one is left out of it)."""
    line = next(line for line in lb.file("/etc/caddy/Caddyfile").content_string.splitlines()
                if line.strip().startswith("reverse_proxy "))
    return [app.backend.get_hostname() for app in app_hosts if gunicorn_address(app) in line.split()]


# The example inventory's mathesar_lb_static_root: where a balancer that is not an app host keeps the static files.
LB_STATIC = "/var/www/mathesar-static"


def _static_files(host, folder):
    """The files below folder (their .gz copies left out), as paths relative to it."""
    listing = host.run(f"cd {folder} && find . -type f ! -name '*.gz' -printf '%P\\n'")
    assert listing.rc == 0, listing.stderr
    return set(listing.stdout.split())


def test_a_failed_switch_stops_the_rolling_upgrade(lb, app_hosts, admin, settings, standin_only, upgrade_archive):
    """An upgrade from 0.10 to 0.11 under load, rolling: the primary migrates while 0.10 serves on, then the app
    hosts switch one at a time, each left out by the balancer meanwhile. app2's new release does not start (a fault
    of its own), so app2 goes back to 0.10, the balancer sends it requests again and the run fails, naming it; app1
    stays on 0.11. No request gets an HTTP error through the balancer meanwhile (0.10 works on 0.11's schema), and
    the logged-in session goes on."""
    primary, other = sorted(app_hosts, key=lambda app: not is_primary(app))
    before = _release(other)
    other.run_expect([0], f"mkdir -p {REFUSE_DROPIN.rsplit('/', 1)[0]} && printf '%s\\n' '[Service]' "
                     f"\"ExecStartPre=/bin/sh -c '! readlink /opt/mathesar/current | grep -q {UPGRADE}'\" "
                     f"> {REFUSE_DROPIN} && systemctl daemon-reload")
    load = LoadLoop(lb, settings["domain"], seconds=600)
    try:
        run = _upgrade(upgrade_archive)
    finally:
        load.stop()
        other.run_expect([0], f"rm -f {REFUSE_DROPIN} && systemctl daemon-reload")
    codes = load.codes()
    text = output(run)
    name = other.backend.get_hostname()
    assert run.returncode != 0, text[-3000:]
    assert f"Switching {name} from Mathesar" in text and "failed, and it was switched back" in text, text[-4000:]
    assert f"The roll stopped after {name}" in text, text[-4000:]
    assert _release(primary) == f"/opt/mathesar/releases/{UPGRADE}"
    assert _release(other) == before
    assert sorted(_balanced_over(lb, app_hosts)) == sorted(app.backend.get_hostname() for app in app_hosts)
    assert _all_answer(lb, app_hosts, settings), "an app host does not answer after the failed switch"
    _no_error_answer("Failed rolling upgrade", codes)
    # Two releases serve at once: the balancer has the static files of both (each app host's pages name its own).
    served = _static_files(lb, LB_STATIC)
    for app in app_hosts:
        missing = _static_files(app, "/opt/mathesar/current/static") - served
        assert not missing, (app.backend.get_hostname(), sorted(missing)[:5])
    before_only = sorted(_static_files(other, "/opt/mathesar/current/static")
                         - _static_files(primary, "/opt/mathesar/current/static"))
    assert before_only, "both releases collect the same files: the check below would prove nothing"
    domain = settings["domain"]
    status = lb.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {SITE_CA} --resolve {domain}:443:127.0.0.1 "
                    f"'https://{domain}/static/{before_only[0]}'")
    assert status.stdout == "200", (before_only[0], status.stdout)
    assert "error" not in admin.rpc("databases.configured.list")


def test_the_rolling_upgrade_goes_on_where_it_stopped(lb, app_hosts, admin, settings, standin_only,
                                                     upgrade_archive):
    """With the fault gone, the same upgrade run again switches the app host that stopped the roll, under load,
    with no HTTP error; 0.11's migration is recorded once, no migration twice, and the session goes on."""
    load = LoadLoop(lb, settings["domain"], seconds=600)
    try:
        run = _upgrade(upgrade_archive)
    finally:
        load.stop()
    codes = load.codes()
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-4000:]
    for app in app_hosts:
        assert _release(app) == f"/opt/mathesar/releases/{UPGRADE}", app.backend.get_hostname()
    _no_error_answer("Rolling upgrade, run again", codes)
    db = host_in_group("mathesar_db")
    assert psql(db, f"SELECT count(*) FROM django_migrations WHERE app = 'mathesar' AND name = '{UPGRADE_MIGRATION}'",
                database="mathesar_django") == "1"
    assert _recorded_twice(db) == ""
    assert "error" not in admin.rpc("databases.configured.list")
