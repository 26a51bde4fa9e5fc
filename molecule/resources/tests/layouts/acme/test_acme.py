"""The proxy's default TLS mode, acme, against a real ACME server: Pebble (Let's Encrypt's test server) in the
hardening scenario's acme container. The certificate comes through a real challenge and chains to Pebble's root, a
re-run orders no new one, and a run whose certificate cannot be issued fails with Caddy's reason and the fix."""

import re
import time

import pytest
from conftest import SITE_CA, host_in_group, output, run_playbook

testinfra_hosts = ["mathesar_app"]

ACME_ADDRESS = "172.30.98.13"
STORAGE = "/var/lib/caddy/.local/share/caddy/certificates"


@pytest.fixture(scope="module")
def acme():
    return host_in_group("acme_server")


def _handshake(host, domain, *extra):
    return host.run(f"openssl s_client -connect 127.0.0.1:443 -servername {domain} {' '.join(extra)} </dev/null")


def _issued(acme):
    log = acme.check_output("journalctl --unit pebble --output cat --no-pager")
    return re.findall(r"Issued certificate serial (\S+)", log)


def test_the_certificate_comes_from_pebble_and_chains_to_its_root(host, settings):
    served = _handshake(host, settings["domain"], "-verify_return_error", f"-CAfile {SITE_CA}")
    assert served.rc == 0, served.stdout + served.stderr
    assert "Verify return code: 0 (ok)" in served.stdout, served.stdout
    assert re.search(r"issuer=.*Pebble Intermediate CA", served.stdout), served.stdout
    # Kept by Caddy under the ACME server's name, not made by its local CA.
    stored = host.run(f"ls {STORAGE}").stdout.split()
    assert len(stored) == 1 and stored[0].startswith("acme.test"), stored


def test_the_reruns_ordered_no_new_certificate(acme, host, settings):
    # converge, the idempotence run and, in hardening_ssh, further runs: one order, one certificate.
    issued = _issued(acme)
    assert len(issued) == 1, issued
    serial = host.check_output(f"openssl s_client -connect 127.0.0.1:443 -servername {settings['domain']} "
                               "</dev/null 2>/dev/null | openssl x509 -noout -serial").split("=")[1]
    assert int(serial, 16) == int(issued[0], 16), (serial, issued)


def test_a_certificate_that_cannot_be_issued_fails_the_run_with_the_reason(acme, host, settings):
    domain = settings["domain"]
    before = len(_issued(acme))
    # Pebble can no longer reach the site (a table of the test's own, before the role's), and Caddy has no
    # certificate: it orders one at its start, and the validation fails.
    host.check_output("nft add table inet acme_test && nft add chain inet acme_test input "
                      "'{ type filter hook input priority -10; }' && nft add rule inet acme_test input "
                      f"ip saddr {ACME_ADDRESS} tcp dport '{{ 80, 443 }}' reject with tcp reset")
    try:
        host.check_output(f"rm -rf {STORAGE}/acme.test* && systemctl restart caddy")
        run = run_playbook("acme_wait.yml", "-e", "reverse_proxy_acme_wait=20")
        text = output(run)
        assert run.returncode != 0, text
        assert f"Caddy got no certificate for {domain} from https://acme.test:14000/dir within 20 s" in text, text
        # The reason from Caddy's log: Pebble could not connect for the challenge.
        assert "(none logged)" not in text, text
        assert re.search(r"Caddy's last errors: .*(connection|challenge)", text), text
        assert "ports 80 and 443" in text, text
    finally:
        host.run("nft delete table inet acme_test")
        host.run("systemctl restart caddy")
    # Reachable again: the next order succeeds (Caddy retries by itself; the restart only makes it sooner).
    for _ in range(30):
        if _handshake(host, domain, "-verify_return_error", f"-CAfile {SITE_CA}").rc == 0:
            break
        time.sleep(2)
    else:
        pytest.fail("no certificate after the ACME server was reachable again")
    assert len(_issued(acme)) == before + 1
