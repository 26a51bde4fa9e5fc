"""Bad input must stop the playbook in its preflight, before any change, with a message naming the variable.

The playbook runs against this controller itself (connection local) in check mode: even a preflight that let
something through could not change anything here.
"""

import datetime
import json
import pathlib
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "site.yml"
INVENTORY = REPO / "inventories" / "example" / "hosts.yml"

GOOD = {
    "ansible_connection": "local",
    "ansible_python_interpreter": str(REPO / ".venv" / "bin" / "python"),
    "vault_mathesar_db_password": "a-db-password-long-enough",
    "vault_mathesar_secret_key": "k" * 50,
    "vault_mathesar_admin_password": "an-admin-password",
    # This controller has no admin with an authorized key: the hardening preflight would refuse it (rightly). The
    # hardening cases below turn it on.
    "mathesar_hardening_enabled": False,
}
HARDENING = {"mathesar_hardening_enabled": True}


def run(tmp_path, overrides, drop=(), tags=None):
    values = {k: v for k, v in GOOD.items() if k not in drop}
    values.update(overrides)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(values))
    argv = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), "--check",
            "-e", f"@{extra}"]
    if tags:
        argv += ["--tags", tags]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


def recap(output):
    """The PLAY RECAP's counts, summed over its hosts (the controller's inventory check and the target)."""
    found = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output)
    assert found, output[-3000:]
    return {key: sum(int(row[i]) for row in found) for i, key in enumerate(("ok", "changed", "failed"))}


def test_good_input_passes_the_preflight(tmp_path):
    # Only the preflight (tagged always) runs: a tag that matches nothing else.
    rc, out = run(tmp_path, {}, tags="preflight-probe")
    assert rc == 0, out[-3000:]
    assert recap(out) == {"ok": recap(out)["ok"], "changed": 0, "failed": 0}


CASES = {
    "missing secrets": ({}, ("vault_mathesar_db_password",), "mathesar_app_db_password"),
    "placeholder secret": ({"vault_mathesar_secret_key": "CHANGE_ME"}, (), "mathesar_app_secret_key"),
    "short secret key": ({"vault_mathesar_secret_key": "short"}, (), "mathesar_app_secret_key"),
    "domain with scheme": ({"mathesar_app_domain": "https://mathesar.example.org"}, (), "mathesar_app_domain"),
    "version not a version": ({"mathesar_app_version": "latest"}, (), "mathesar_app_version"),
    "web concurrency 0": ({"mathesar_app_web_concurrency": 0}, (), "mathesar_app_web_concurrency"),
    "unknown tls mode": ({"reverse_proxy_tls_mode": "selfsigned"}, (), "reverse_proxy_tls_mode"),
    "unknown sslmode": ({"mathesar_app_db_sslmode": "sometimes"}, (), "mathesar_app_db_sslmode"),
    "acme with an IP": ({"mathesar_app_domain": "203.0.113.10"}, (), "reverse_proxy_tls_mode"),
    "root login yes": ({**HARDENING, "hardening_ssh_permit_root_login": "yes"}, (), "hardening_ssh_permit_root_login"),
    "ssh cidr not a network": ({**HARDENING, "hardening_firewall_ssh_allowed_cidrs": ["office"]}, (),
                               "hardening_firewall_ssh_allowed_cidrs"),
    "admin user that does not exist": ({**HARDENING, "hardening_ssh_admin_users": ["no-such-admin"]}, (),
                                       "hardening_ssh_admin_users"),
    "forward policy typo": ({**HARDENING, "hardening_firewall_forward_policy": "dorp"}, (),
                            "hardening_firewall_forward_policy"),
}


def assert_failed_in_the_preflight(case, rc, out, variable):
    assert rc != 0, f"{case}: the playbook did not fail\n{out[-3000:]}"
    summary = recap(out)
    assert summary["changed"] == 0 and summary["failed"] == 1, summary
    # The failure happened in the preflight play: the main play never started.
    assert "PLAY [Mathesar on one host]" not in out, f"{case}: failed only after the preflight\n{out[-3000:]}"
    assert variable in out, f"{case}: the message does not name {variable}\n{out[-3000:]}"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_before_any_change(tmp_path, case):
    overrides, drop, variable = CASES[case]
    assert_failed_in_the_preflight(case, *run(tmp_path, overrides, drop), variable)


def _tls_pair(folder, name, days=30):
    """A self-signed certificate (valid for `days`, negative: expired) and its key, as files in folder."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mathesar-db")])
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=3), now - datetime.timedelta(days=1)) if days < 0 else \
        (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .sign(key, hashes.SHA256()))
    crt, pem = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    pem.chmod(0o600)
    return str(crt), str(pem)


def _tls_files(cert, key):
    return {"postgres_tls_mode": "files", "postgres_tls_cert_file": cert, "postgres_tls_key_file": key}


def test_matching_tls_files_pass_the_preflight(tmp_path):
    rc, out = run(tmp_path, _tls_files(*_tls_pair(tmp_path, "good")), tags="preflight-probe")
    assert rc == 0, out[-3000:]
    assert "Fail when the certificate has expired" in out
    assert recap(out)["changed"] == 0


TLS_CASES = {
    "key of another certificate": ("postgres_tls_key_file", "is not the key of postgres_tls_cert_file"),
    "expired certificate": ("postgres_tls_cert_file", "expired on"),
    "missing key file": ("postgres_tls_key_file", "must be files on the controller"),
}


@pytest.mark.parametrize("case", list(TLS_CASES))
def test_bad_tls_files_fail_before_any_change(tmp_path, case):
    cert, key = _tls_pair(tmp_path, "server", days=-1 if case == "expired certificate" else 30)
    if case == "key of another certificate":
        key = _tls_pair(tmp_path, "other")[1]
    if case == "missing key file":
        key = str(tmp_path / "no-such.key")
    rc, out = run(tmp_path, _tls_files(cert, key))
    variable, message = TLS_CASES[case]
    assert_failed_in_the_preflight(case, rc, out, variable)
    assert message in out, f"{case}: not the expected message\n{out[-3000:]}"
