"""Checks of the external (managed) database mode: what the play created on a server it does not manage, the
refusal of a pg_dump older than the server, the renewal of the server certificate the postgres role signs in ca
mode (the managed server's fixture uses that mode), and the proxy serving your own certificate (files mode)."""

import datetime
import shlex
import sys
import time

from conftest import (REPO, TEST_PKI, fresh_db_connection, host_in_group, name_in_group, not_after, output, pg_conf_dir,
                      pg_unit, psql, run_converge, run_playbook, sign_short_lived_certificate)
from cryptography import x509

sys.path.insert(0, str(REPO / "tests" / "testbed"))
import site_pki  # noqa: E402  (tests/testbed, as the converge runs it)


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


def test_a_pg_dump_older_than_the_server_is_refused(settings):
    """The app role refuses a pg_dump older than the database server (its backups would fail), naming both
    versions and the fix. Run from bare_host (Debian 12: pg_dump 15) against the managed server (Debian 13:
    PostgreSQL 17), as a Debian 12 app host would; the app host (Debian 13) passed the same check in converge."""
    bare, db = host_in_group("bare_host"), host_in_group("managed_db")
    assert bare.system_info.codename == "bookworm", "molecule.yml gives bare_host the Debian 12 image"
    server = psql(db, "SHOW server_version_num")[:2]
    run = run_playbook("client_check.yml")
    text = output(run)
    assert run.returncode != 0, text[-2000:]
    assert "this host's pg_dump is version 15" in text, text[-2000:]
    assert f"(PostgreSQL {server}." in text and f"mathesar_app_db_client_package: postgresql-client-{server}" in text
    assert settings["db_password"] not in text


def _wait_until_served(db, pem, timeout=10):
    """Wait until PostgreSQL on db presents the certificate pem (a reload applies it to new connections)."""
    wanted = x509.load_pem_x509_certificate(pem)
    deadline = time.monotonic() + timeout
    while True:
        shown = db.run("openssl s_client -starttls postgres -connect 127.0.0.1:5432 </dev/null 2>/dev/null "
                       "| openssl x509").stdout
        if shown and x509.load_pem_x509_certificate(shown.encode()) == wanted:
            return
        assert time.monotonic() < deadline, \
            f"PostgreSQL does not present the certificate that ends {wanted.not_valid_after_utc}"
        time.sleep(0.5)


def test_server_certificate_is_renewed_before_it_expires():
    """ca mode: a host certificate that expires within postgres_tls_renew_days (30) is signed again on the next run,
    installed and reloaded; the app keeps connecting with the same CA. Here the managed server's fixture (the
    postgres role in ca mode) first gets a certificate valid for 5 more days, as after 820 days."""
    db, app = host_in_group("managed_db"), host_in_group("mathesar_app")
    name = name_in_group("managed_db")
    pki = TEST_PKI
    crt = pki / f"{name}.crt"
    short = sign_short_lived_certificate(pki, name)
    installed = db.run(f"printf %s {shlex.quote(short.decode())} > {pg_conf_dir(db)}/mathesar-deploy-server.crt && "
                       f"systemctl reload {pg_unit(db)}")
    assert installed.rc == 0, installed.stderr
    _wait_until_served(db, short)

    # Only the postgres role's TLS tasks (and the preflight that loads their per-release variables): the renewal is
    # theirs alone, and a whole converge here cost about two minutes of CI time.
    run = run_converge("--tags", "postgres_preflight,postgres_tls")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    renewed = crt.read_bytes()
    assert not_after(renewed) > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=800)
    # The server presents the new certificate, and the app's fresh connections verify it against the same CA.
    _wait_until_served(db, renewed)
    assert fresh_db_connection(app).stdout.strip() == "1"


def _served_chain(app, settings):
    """The certificates Caddy presents for the site's name, as PEM blocks."""
    shown = app.run(f"openssl s_client -connect 127.0.0.1:443 -servername {settings['domain']} -showcerts "
                    "</dev/null 2>/dev/null").stdout
    return ["-----BEGIN CERTIFICATE-----" + block.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
            for block in shown.split("-----BEGIN CERTIFICATE-----")[1:]]


def test_own_certificate_is_served_with_its_chain_and_replaced(settings):
    """files mode: Caddy presents the given chain (site certificate, then the intermediate) from root-only files,
    and takes a new certificate and key on the next run (here a whole new test PKI; converge copies its root for the
    checks that follow)."""
    app = host_in_group("mathesar_app")
    pki = TEST_PKI / "site"
    assert "".join(_served_chain(app, settings)) == (pki / "fullchain.crt").read_text()
    for path in ("/etc/caddy/tls/site.crt", "/etc/caddy/tls/site.key"):
        installed = app.file(path)
        assert (installed.user, installed.group, installed.mode) == ("root", "caddy", 0o640), path
    verified = app.run(f"curl -sS -o /dev/null -w '%{{http_code}}' --cacert /root/mathesar-test-site-root.crt "
                       f"--resolve {settings['domain']}:443:127.0.0.1 https://{settings['domain']}/auth/login/")
    assert verified.stdout == "200", (verified.stdout, verified.stderr)

    old = (pki / "site.crt").read_text()
    site_pki.make(pki, [settings["domain"]])
    run = run_converge("--tags", "reverse_proxy")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert (pki / "site.key").read_text().splitlines()[1] not in run.stdout + run.stderr
    served = _served_chain(app, settings)
    assert served[0] != old and "".join(served) == (pki / "fullchain.crt").read_text()
