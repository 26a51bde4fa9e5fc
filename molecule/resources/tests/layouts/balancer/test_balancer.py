"""Checks only the load-balancer layout has: requests spread over the app hosts, a browser kept on one, gunicorn
reachable from the balancers alone, one scheduled backup, and requests that survive a rolling configuration re-run,
the loss of an app host and a rolling upgrade (one that fails on an app host, then goes on). Two balancers, Caddy
and nginx: the disruptions send load through both at once, each balancer's load loop on it against its own site,
bounded in time. The checks of one balancer's own behaviour (spread, stickiness by cookie) run on Caddy's."""

import subprocess
import time
import uuid
import warnings

import pytest
from conftest import (REPO, LoadLoop, gunicorn_address, gunicorn_status, host_in_group, hosts_in_group, is_primary,
                      names_in_group, on_nginx_lb, output, pg_unit, psql, run_converge, served_by, site_ca, site_status,
                      tcp_connects)
from mathesar_client import Client

# The release the upgrade check goes to from the scenario's 0.10: a 0.11 stand-in, with 0.11's migration.
UPGRADE = "0.11.0-standin3"
UPGRADE_MIGRATION = "0003_username_max_63"

# The tests that log in (the admin fixture) do so through the Caddy balancer's site, from that balancer (the shared
# suite runs through each). The group's pattern where it has no host (another scenario: deselected anyway).
testinfra_hosts = list(names_in_group("mathesar_lb")[:1]) or ["mathesar_lb"]


@pytest.fixture(scope="module")
def lb():
    """The Caddy balancer."""
    return hosts_in_group("mathesar_lb")[0]


@pytest.fixture(scope="module")
def balancers():
    """Every balancer: Caddy's, then nginx's."""
    found = hosts_in_group("mathesar_lb")
    assert [on_nginx_lb(balancer) for balancer in found] == [False, True], [b.backend.get_hostname() for b in found]
    return found


def _name(host):
    return host.backend.get_hostname()


def _loads(balancers, settings, seconds):
    """A load loop through each balancer at once, 4 clients each."""
    return {_name(balancer): LoadLoop(balancer, settings["domain"], seconds=seconds, clients=4)
            for balancer in balancers}


def _stop(loads):
    for load in loads.values():
        load.stop()


def _codes(loads):
    """Each balancer's statuses, once its load loop ended."""
    return {name: load.codes() for name, load in loads.items()}


def _all_answer(balancers, app_hosts, settings):
    """Every app host's gunicorn answers each balancer again (Caddy's active health check then puts a returning host
    back; nginx tries it again after reverse_proxy_fail_duration)."""
    addresses = [gunicorn_address(app) for app in app_hosts]
    for _ in range(60):
        if all(gunicorn_status(balancer, address, settings["domain"]) == "200"
               for balancer in balancers for address in addresses):
            return True
        time.sleep(2)
    return False


def _site_answers(balancers, settings, tries, pause):
    """Wait until the site answers through every balancer (at most tries x pause seconds); whether it does."""
    for _ in range(tries):
        if all(site_status(balancer, settings["domain"]) == "200" for balancer in balancers):
            return True
        time.sleep(pause)
    return False


def _recorded_twice(db):
    """The migrations django_migrations holds more than once (it has no unique key)."""
    return psql(db, "SELECT app, name FROM django_migrations GROUP BY app, name HAVING count(*) > 1",
                database="mathesar_django")


def _failed(codes):
    """The answers of a load loop that are not 200 (curl's 000: no answer at all)."""
    return [code for code in codes if code != "200"]


def _none_failed(codes_by_balancer):
    """Each balancer's load loop ran (at least 16 requests) and had every request answered 200."""
    for name, codes in codes_by_balancer.items():
        failed = _failed(codes)
        assert len(codes) >= 16 and not failed, (name, len(codes), sorted(set(failed)))


def _report(disruption, codes_by_balancer):
    """A disruption's failed requests through each balancer, as warnings in pytest's summary (reported, not held to
    a number)."""
    for name, codes in codes_by_balancer.items():
        failed = _failed(codes)
        warnings.warn(f"{disruption} under load through {name}: {len(failed)} of {len(codes)} requests failed "
                      f"({', '.join(sorted(set(failed))) or 'none'})")


def _no_error_answer(disruption, codes_by_balancer):
    """Through a rolling upgrade every answer is 200: an HTTP error (a 502 from a balancer, a 500 from Django)
    fails the check. A request with no answer at all (curl's 000) is reported: a Caddy reload, which draining takes,
    can reset a connection now and then (docs/load-balancer.md)."""
    for name, codes in codes_by_balancer.items():
        assert len(codes) >= 16, (name, len(codes))
        assert not [code for code in codes if code not in ("200", "000")], (name, sorted(set(codes)))
    _report(disruption, codes_by_balancer)


def _started_at(names):
    """When docker last started each container."""
    shown = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", *names], check=True,
                           capture_output=True, text=True).stdout.split()
    return dict(zip(names, shown))


def test_requests_spread_over_both_app_hosts(lb, app_hosts, settings):
    # Fresh clients, no cookie: Caddy's sticky policy picks an app host for each (at random until the cookie is set).
    # nginx's hashes the client's address, so its loopback clients all reach one app host: not checked there.
    marker = f"spread-{uuid.uuid4().hex}"
    for n in range(24):
        site_status(lb, settings["domain"], f"?{marker}={n}")
    counts = served_by(app_hosts, marker)
    assert sum(counts.values()) == 24 and all(counts.values()), counts


def test_a_browser_stays_on_one_app_host(lb, app_hosts, settings):
    """A file uploaded for an import lands in the media folder of the app host that took it: the import that
    follows must reach the same host. The balancer's cookie keeps a browser there."""
    browser = Client(lb, settings["domain"], site_ca(lb))
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


def test_gunicorn_admits_the_balancers_alone(balancers, outsider, app_hosts):
    for app in app_hosts:
        address, port = gunicorn_address(app).rsplit(":", 1)
        for balancer in balancers:
            assert tcp_connects(balancer, address, port), f"{_name(balancer)} cannot reach {address}:{port}"
        assert not tcp_connects(outsider, address, port), f"the outsider reaches gunicorn on {address}:{port}"
    # Nor the site's own ports on an app host: it serves the balancer only.
    for app in app_hosts:
        address = gunicorn_address(app).rsplit(":", 1)[0]
        assert not tcp_connects(outsider, address, 443), f"the outsider reaches port 443 on {address}"


def test_app_hosts_run_no_proxy_of_their_own(app_hosts):
    for app in app_hosts:
        for proxy in ("caddy", "nginx"):
            assert not app.package(proxy).is_installed, (app.backend.get_hostname(), proxy)


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


def test_a_configuration_rerun_drops_no_request(balancers, app_hosts, admin, settings):
    """A re-run that changes Mathesar's configuration alone restarts gunicorn on every app host, one at a time and
    in place (systemd holds the socket; the balancers do not reload): no request through either balancer fails, and
    a logged-in session goes on."""
    before = {app.backend.get_hostname(): app.check_output("systemctl show -p MainPID --value mathesar")
              for app in app_hosts}
    loads = _loads(balancers, settings, seconds=240)
    try:
        run = run_converge("--tags", "mathesar_app", "-e", "mathesar_app_conn_max_age=59")
    finally:
        _stop(loads)
    codes = _codes(loads)
    assert run.returncode == 0, run.stdout[-3000:]
    after = {app.backend.get_hostname(): app.check_output("systemctl show -p MainPID --value mathesar")
             for app in app_hosts}
    assert all(after[name] != before[name] for name in before), "gunicorn did not restart on every app host"
    _none_failed(codes)
    assert "error" not in admin.rpc("databases.configured.list")
    # Left on 59: the upgrade's runs below (the last checks) go back to the inventory's configuration as well.


def _served_through(balancer, app_hosts, settings):
    """The app hosts that took a request of balancer's loopback clients just now (the caller expects one)."""
    marker = f"via-{uuid.uuid4().hex}"
    site_status(balancer, settings["domain"], f"?{marker}")
    return [app for app, count in zip(app_hosts, served_by(app_hosts, marker).values()) if count]


def test_a_lost_app_host_drops_no_request(balancers, app_hosts, admin, settings):
    """An app host's container is killed (no shutdown: a lost host) while clients load the site through both
    balancers: each retries the requests that hit the dead host on the other one and leaves it out (Caddy until its
    health check passes again, nginx for reverse_proxy_fail_duration). The lost host is the one nginx's loopback
    clients reach (its policy hashes the client's address; Caddy's spreads them), so both balancers lose it. Then
    it comes back by itself, with no manual step, and each balancer sends it requests again."""
    nginx_lb = balancers[1]
    taken = _served_through(nginx_lb, app_hosts, settings)
    assert len(taken) == 1, [_name(app) for app in taken]
    lost = taken[0]
    name = lost.backend.get_hostname()
    loads = _loads(balancers, settings, seconds=30)
    time.sleep(5)
    subprocess.run(["docker", "kill", name], check=True, capture_output=True)
    codes = _codes(loads)
    try:
        _none_failed(codes)
        assert "error" not in admin.rpc("databases.configured.list")
    finally:
        subprocess.run(["docker", "start", name], check=True, capture_output=True)
        for _ in range(60):
            if lost.run("systemctl is-system-running").stdout.strip() in ("running", "degraded"):
                break
            time.sleep(2)
    assert _all_answer(balancers, app_hosts, settings), "the app host did not come back"
    # Back in the pool of each balancer: fresh clients reach it again.
    for balancer in balancers:
        marker = f"back-{uuid.uuid4().hex}"
        for _ in range(30):
            site_status(balancer, settings["domain"], f"?{marker}")
            if served_by([lost], marker)[name]:
                break
            time.sleep(2)
        assert served_by([lost], marker)[name], f"{_name(balancer)} did not send requests to the returning host"


def test_a_database_restart_under_load_is_reported(balancers, admin, settings):
    """PostgreSQL restarts while clients load the site through both balancers. Every app host loses its database
    connections at once, so some requests fail (no app host is better off): the count is reported as a warning in
    the summary, not held to 0. The site must answer again by itself, and a logged-in session goes on."""
    db = host_in_group("mathesar_db")
    loads = _loads(balancers, settings, seconds=20)
    time.sleep(5)
    assert db.run(f"systemctl restart {pg_unit(db)}").rc == 0
    codes = _codes(loads)
    _report("PostgreSQL restart", codes)
    assert all(len(each) >= 16 for each in codes.values()), {name: len(each) for name, each in codes.items()}
    assert _site_answers(balancers, settings, tries=30, pause=1), "the site does not answer after the restart"
    assert "error" not in admin.rpc("databases.configured.list")


def test_every_host_rebooted_at_once_comes_back_with_its_data(balancers, app_hosts, admin, settings):
    """All five hosts restart at once (a power cut of the whole deployment): with no manual step the site answers
    through both balancers again, the admin's session and Mathesar's records are still there."""
    before = admin.rpc_result("databases.configured.list")
    names = [host.backend.get_hostname() for host in [*balancers, *app_hosts, host_in_group("mathesar_db")]]
    started = _started_at(names)
    subprocess.run(["docker", "restart", "--time", "20", *names], check=True, capture_output=True)
    restarted = _started_at(names)
    assert all(restarted[name] != started[name] for name in names), (started, restarted)
    assert _site_answers(balancers, settings, tries=90, pause=2), "the site does not answer after the reboot"
    assert _all_answer(balancers, app_hosts, settings), "not every app host answers after the reboot"
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


def _balanced_over(balancer, app_hosts):
    """The app hosts a balancer sends requests to: those on Caddy's reverse_proxy line (a drained one is left out of
    it), or nginx's upstream servers not marked down."""
    if on_nginx_lb(balancer):
        servers = [line.split() for line in balancer.file("/etc/nginx/conf.d/mathesar.conf").content_string.splitlines()
                   if line.strip().startswith("server ") and ":" in line.split()[1]]
        serving = {words[1] for words in servers if words[-1] != "down;"}
    else:
        line = next(line for line in balancer.file("/etc/caddy/Caddyfile").content_string.splitlines()
                    if line.strip().startswith("reverse_proxy "))
        serving = set(line.split())
    return [app.backend.get_hostname() for app in app_hosts if gunicorn_address(app) in serving]


# The example inventory's mathesar_lb_static_root: where a balancer that is not an app host keeps the static files.
LB_STATIC = "/var/www/mathesar-static"


def _static_files(host, folder):
    """The files below folder (their .gz copies left out), as paths relative to it."""
    listing = host.run(f"cd {folder} && find . -type f ! -name '*.gz' -printf '%P\\n'")
    assert listing.rc == 0, listing.stderr
    return set(listing.stdout.split())


def test_a_failed_switch_stops_the_rolling_upgrade(balancers, app_hosts, admin, settings, standin_only,
                                                   upgrade_archive):
    """An upgrade from 0.10 to 0.11 under load, rolling: the primary migrates while 0.10 serves on, then the app
    hosts switch one at a time, each left out by both balancers meanwhile. app2's new release does not start (a
    fault of its own), so app2 goes back to 0.10, the balancers send it requests again and the run fails, naming it;
    app1 stays on 0.11. No request gets an HTTP error through either balancer meanwhile (0.10 works on 0.11's
    schema), and the logged-in session goes on."""
    primary, other = sorted(app_hosts, key=lambda app: not is_primary(app))
    before = _release(other)
    other.run_expect([0], f"mkdir -p {REFUSE_DROPIN.rsplit('/', 1)[0]} && printf '%s\\n' '[Service]' "
                     f"\"ExecStartPre=/bin/sh -c '! readlink /opt/mathesar/current | grep -q {UPGRADE}'\" "
                     f"> {REFUSE_DROPIN} && systemctl daemon-reload")
    loads = _loads(balancers, settings, seconds=600)
    try:
        run = _upgrade(upgrade_archive)
    finally:
        _stop(loads)
        other.run_expect([0], f"rm -f {REFUSE_DROPIN} && systemctl daemon-reload")
    codes = _codes(loads)
    text = output(run)
    name = other.backend.get_hostname()
    assert run.returncode != 0, text[-3000:]
    assert f"Switching {name} from Mathesar" in text and "failed, and it was switched back" in text, text[-4000:]
    assert f"The roll stopped after {name}" in text, text[-4000:]
    assert _release(primary) == f"/opt/mathesar/releases/{UPGRADE}"
    assert _release(other) == before
    for balancer in balancers:
        assert sorted(_balanced_over(balancer, app_hosts)) == sorted(_name(app) for app in app_hosts), _name(balancer)
    assert _all_answer(balancers, app_hosts, settings), "an app host does not answer after the failed switch"
    _no_error_answer("Failed rolling upgrade", codes)
    # Two releases serve at once: each balancer has the static files of both (each app host's pages name its own).
    before_only = sorted(_static_files(other, "/opt/mathesar/current/static")
                         - _static_files(primary, "/opt/mathesar/current/static"))
    assert before_only, "both releases collect the same files: the check below would prove nothing"
    domain = settings["domain"]
    for balancer in balancers:
        served = _static_files(balancer, LB_STATIC)
        for app in app_hosts:
            missing = _static_files(app, "/opt/mathesar/current/static") - served
            assert not missing, (_name(balancer), _name(app), sorted(missing)[:5])
        status = balancer.run(f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {site_ca(balancer)} "
                              f"--resolve {domain}:443:127.0.0.1 'https://{domain}/static/{before_only[0]}'")
        assert status.stdout == "200", (_name(balancer), before_only[0], status.stdout)
    assert "error" not in admin.rpc("databases.configured.list")


def test_the_rolling_upgrade_goes_on_where_it_stopped(balancers, app_hosts, admin, settings, standin_only,
                                                     upgrade_archive):
    """With the fault gone, the same upgrade run again switches the app host that stopped the roll, under load
    through both balancers, with no HTTP error; 0.11's migration is recorded once, no migration twice, and the
    session goes on."""
    loads = _loads(balancers, settings, seconds=600)
    try:
        run = _upgrade(upgrade_archive)
    finally:
        _stop(loads)
    codes = _codes(loads)
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-4000:]
    for app in app_hosts:
        assert _release(app) == f"/opt/mathesar/releases/{UPGRADE}", app.backend.get_hostname()
    _no_error_answer("Rolling upgrade, run again", codes)
    db = host_in_group("mathesar_db")
    assert psql(db, f"SELECT count(*) FROM django_migrations WHERE app = 'mathesar' AND name = '{UPGRADE_MIGRATION}'",
                database="mathesar_django") == "1"
    assert _recorded_twice(db) == ""
    assert "error" not in admin.rpc("databases.configured.list")
