"""Bad input must stop the playbook in its preflight, before any change, with a message naming the variable.

The playbook runs against this controller itself (connection local) in check mode: even a preflight that let
something through could not change anything here.
"""

import datetime
import json
import pathlib
import re
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "testbed"))
import site_pki  # noqa: E402  (tests/testbed, also run by the scenarios' converge)
PLAYBOOK = REPO / "playbooks" / "site.yml"
INVENTORY = REPO / "inventories" / "example" / "hosts.yml"

GOOD = {
    "ansible_connection": "local",
    "ansible_python_interpreter": str(REPO / ".venv" / "bin" / "python"),
    "vault_mathesar_db_password": "a-db-password-long-enough",
    "vault_mathesar_secret_key": "k" * 50,
    "vault_mathesar_admin_password": "an-admin-password",
    "vault_pgbackrest_cipher_pass": "a-cipher-pass-long-enough-for-pgbackrest",
    # This controller has no admin with an authorized key: the hardening preflight would refuse it (rightly). The
    # hardening cases below turn it on.
    "mathesar_hardening_enabled": False,
}
HARDENING = {"mathesar_hardening_enabled": True}
# A client secret in Mathesar's settings: no output may show it.
SECRET = "never-shown-client-secret"


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
    "missing backup key": ({}, ("vault_pgbackrest_cipher_pass",), "pgbackrest_cipher_pass"),
    "placeholder secret": ({"vault_mathesar_secret_key": "CHANGE_ME"}, (), "mathesar_app_secret_key"),
    "short secret key": ({"vault_mathesar_secret_key": "short"}, (), "mathesar_app_secret_key"),
    "domain with scheme": ({"mathesar_app_domain": "https://mathesar.example.org"}, (), "mathesar_app_domain"),
    "version not a version": ({"mathesar_app_version": "latest"}, (), "mathesar_app_version"),
    "web concurrency 0": ({"mathesar_app_web_concurrency": 0}, (), "mathesar_app_web_concurrency"),
    "unknown python installer": ({"mathesar_app_python_installer": "conda"}, (), "mathesar_app_python_installer"),
    "unknown tls mode": ({"reverse_proxy_tls_mode": "selfsigned"}, (), "reverse_proxy_tls_mode"),
    "unknown sslmode": ({"mathesar_app_db_sslmode": "sometimes"}, (), "mathesar_app_db_sslmode"),
    "acme with an IP": ({"mathesar_app_domain": "203.0.113.10"}, (), "reverse_proxy_tls_mode"),
    "nginx with Caddy's local CA": ({"reverse_proxy_backend": "nginx", "reverse_proxy_tls_mode": "internal"}, (),
                                    "reverse_proxy_tls_mode internal"),
    "root login yes": ({**HARDENING, "hardening_ssh_permit_root_login": "yes"}, (), "hardening_ssh_permit_root_login"),
    "ssh cidr not a network": ({**HARDENING, "hardening_firewall_ssh_allowed_cidrs": ["office"]}, (),
                               "hardening_firewall_ssh_allowed_cidrs"),
    "admin user that does not exist": ({**HARDENING, "hardening_ssh_admin_users": ["no-such-admin"]}, (),
                                       "hardening_ssh_admin_users"),
    "forward policy typo": ({**HARDENING, "hardening_firewall_forward_policy": "dorp"}, (),
                            "hardening_firewall_forward_policy"),
    "release archive not a file": ({"mathesar_app_release_archive": "/nonexistent/mathesar-0.10.1.tar.gz"}, (),
                                   "mathesar_app_release_archive"),
}


def assert_failed_in_the_preflight(case, rc, out, variable):
    assert rc != 0, f"{case}: the playbook did not fail\n{out[-3000:]}"
    summary = recap(out)
    assert summary["changed"] == 0 and summary["failed"] == 1, summary
    # The failure happened in the preflight play: the main play (site.yml's "Mathesar") never started.
    assert not re.search(r"^PLAY \[Mathesar\] ", out, re.M), f"{case}: failed only after the preflight\n{out[-3000:]}"
    assert variable in out, f"{case}: the message does not name {variable}\n{out[-3000:]}"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_before_any_change(tmp_path, case):
    overrides, drop, variable = CASES[case]
    assert_failed_in_the_preflight(case, *run(tmp_path, overrides, drop), variable)


def test_good_input_passes_the_hardening_preflight(tmp_path):
    # The defaults and the example inventory pass the hardening role's checks too (its SSH lockout check, which
    # this controller fails by design, is left out).
    rc, out = run(tmp_path, {**HARDENING, "hardening_ssh_enabled": False}, tags="preflight-probe")
    assert rc == 0, out[-3000:]
    assert "(item=hardening_report_units)" in out
    assert recap(out)["changed"] == 0


# One run per role, with a bad value for each of the checks in the role's preflight loop ("Check the variables
# that the argument spec cannot"). The loop reports every item that fails, each under its own label, so one run
# shows each check firing; every other variable keeps a good value, and each check reads only its own
# variable(s), so a label can only fail on its own value. Per role, because the first role whose preflight fails
# stops the run. Each entry: the overrides, the labels that must fail (and no other may), and text the messages
# must hold (for the checks that name only the bad variables of their group).
ROLE_CASES = {
    "postgres": (
        {
            "postgres_version": "15.4",
            "postgres_listen_addresses": ["localhost", "10.0.0.300"],
            "postgres_port": 99999,
            "postgres_max_connections": 3,
            "postgres_shared_buffers": "64kB",
            "postgres_effective_cache_size": "lots",
            "postgres_work_mem": "4mb",
            "postgres_maintenance_work_mem": "512kB",
            "postgres_settings": {"log line prefix": "%m"},
            "postgres_hba_extra_entries": [{"type": "host", "database": "all", "user": "all",
                                            "address": "10.0.0.0/33", "method": "scram-sha-256"}],
            "postgres_tls_mode": "ca",
            "postgres_tls_ca_dir": "pki",
            "postgres_tls_ca_common_name": "c" * 65,
            "postgres_tls_subject_alt_names": ["db.internal"],
            "postgres_tls_renew_days": 900,
            "postgres_users": [{"name": "pg_mathesar", "password": "a-db-password-long-enough",
                                "role_attr_flags": "CREATEDB, LOGIN"}, {"name": "nopassword", "password": ""}],
            "postgres_databases": [{"name": "d" * 64, "owner": "mathesar", "encoding": "UTF 8"}],
        },
        ["postgres_version", "postgres_listen_addresses", "postgres_port", "postgres_max_connections",
         "postgres_shared_buffers, postgres_effective_cache_size, postgres_work_mem, postgres_maintenance_work_mem",
         "postgres_settings", "postgres_hba_entries, postgres_hba_extra_entries", "postgres_tls_ca_dir",
         "postgres_tls_ca_common_name", "postgres_tls_subject_alt_names", "postgres_tls_renew_days",
         "postgres_users, postgres_databases", "postgres_users password", "postgres_users role_attr_flags",
         "postgres_databases encoding"],
        ["postgres_shared_buffers ('64kB')", "postgres_effective_cache_size ('lots')", "postgres_work_mem ('4mb')",
         "postgres_maintenance_work_mem ('512kB')", '"pg_mathesar"', '"' + "d" * 64 + '"', "not so for: nopassword."],
    ),
    "mathesar_app": (
        {
            # Mathesar's role and database in the example inventory come from these variables: keep the postgres
            # role out of it.
            "postgres_users": [], "postgres_databases": [],
            "vault_mathesar_secret_key": "k" * 50 + "\nsecond line",
            "vault_mathesar_db_password": "a-db-password\nlong-enough",
            "mathesar_app_release_url": "github.com/mathesar.tar.gz",
            "mathesar_app_release_sha256": "3f0c",
            "mathesar_app_uv_version": "latest",
            "mathesar_app_root": "opt/mathesar",
            "mathesar_app_media_root": "/srv/my media",
            "mathesar_app_user": "root",
            "mathesar_app_allowed_hosts": ["https://mathesar.example.org"],
            "mathesar_app_db_host": "",
            "mathesar_app_db_port": 70000,
            "mathesar_app_db_name": "d" * 64,
            "mathesar_app_db_user": "pg_mathesar",
            "mathesar_app_db_create": True,
            "mathesar_app_db_admin_password": "an-admin-password",
            "mathesar_app_db_admin_database": "",
            "mathesar_app_db_sslmode": "require",
            "mathesar_app_db_ssl_root_cert": "pki/ca.crt",
            "mathesar_app_admin_username": "the admin",
            "mathesar_app_admin_email": "admin",
            "mathesar_app_listen_address": "localhost",
            "mathesar_app_listen_port": 80,
            "mathesar_app_proxy_addresses": [],
            "mathesar_app_conn_max_age": -1,
            "mathesar_app_extra_env": {"OIDC-CONFIG": "{}"},
            "mathesar_app_health_timeout": 0,
            "mathesar_app_backup_schedule": "nightly",
            "mathesar_app_backup_randomized_delay": "a while",
            "mathesar_app_backup_keep_safety": -1,
            # 0.11's settings, which 0.10.1 would ignore.
            "mathesar_app_version": "0.10.1",
            "mathesar_app_sso_config": {"version": 2, "providers": {"okta": {"type": "oidc", "secret": SECRET}}},
            "mathesar_app_require_sso_login": True,
            "mathesar_app_data_files_backend": "azure",
            "mathesar_app_per_user_databases": True,
        },
        ["mathesar_app_secret_key", "mathesar_app_db_password", "mathesar_app_release_url",
         "mathesar_app_release_sha256", "mathesar_app_uv_version", "mathesar_app_root", "mathesar_app_media_root",
         "mathesar_app_user, mathesar_app_group", "mathesar_app_allowed_hosts", "mathesar_app_db_host",
         "mathesar_app_db_port",
         "mathesar_app_db_name, mathesar_app_db_user, mathesar_app_db_admin_user, mathesar_app_db_admin_database",
         "mathesar_app_db_ssl_root_cert", "mathesar_app_admin_username", "mathesar_app_admin_email",
         "mathesar_app_listen_port", "mathesar_app_listen_address, mathesar_app_proxy_addresses",
         "mathesar_app_conn_max_age", "mathesar_app_extra_env",
         "mathesar_app_health_timeout", "mathesar_app_backup_schedule", "mathesar_app_backup_randomized_delay",
         "mathesar_app_backup_keep, mathesar_app_backup_keep_safety", "mathesar_app_sso_config",
         "mathesar_app_require_sso_login", "mathesar_app_data_files_backend", "mathesar_app_per_user_databases"],
        ["mathesar_app_db_name, mathesar_app_db_admin_database, mathesar_app_db_user: a PostgreSQL name",
         "reads schema v1 only", "mathesar_app_per_user_databases needs Mathesar 0.11 or later"],
    ),
    "mathesar_app on 0.11": (
        {
            "mathesar_app_version": "0.11.0",
            "mathesar_app_admin_username": "a" * 64,
            "mathesar_app_sso_config": {"version": 2, "providers": {"corp": {"type": "saml", "secret": SECRET}}},
            "mathesar_app_require_sso_login": True,
            "mathesar_app_data_files_backend": "azure",
            "mathesar_app_data_files_azure_connection_string": SECRET,
            "mathesar_app_per_user_databases": True,
        },
        ["mathesar_app_admin_username", "mathesar_app_sso_config", "mathesar_app_data_files_backend"],
        ["must be 1 to 63 letters", "schema v2 (version: 2, providers", "mathesar_app_data_files_azure_container"],
    ),
    "reverse_proxy": (
        {
            "reverse_proxy_acme_email": "admin@",
            "reverse_proxy_upstream": "127.0.0.1:8000",
            "reverse_proxy_upstreams": ["10.0.0.5:8000", "127.0.0.1"],
            "reverse_proxy_drained_hosts": ["10.0.0.9"],
            "reverse_proxy_lb_try_duration": "soon",
            "reverse_proxy_health_uri": "auth/login/",
            "reverse_proxy_static_root": "static",
            "reverse_proxy_static_keep": -1,
            "reverse_proxy_static_cache_other": 'public, max-age="60"',
            "reverse_proxy_max_body_size": "lots",
            "reverse_proxy_hsts_max_age": -1,
            "reverse_proxy_extra_site_config": "log {\n\toutput stdout\n",
            "reverse_proxy_acme_ca": "http://acme.example/dir",
            "reverse_proxy_acme_ca_root_file": "/nonexistent/root.pem",
            "reverse_proxy_acme_wait": -5,
            "reverse_proxy_trusted_proxies": ["10.0.0.0/8", "proxy.example"],
            "reverse_proxy_content_security_policy": 'default-src "self"',
        },
        ["reverse_proxy_acme_email", "reverse_proxy_upstream", "reverse_proxy_upstreams", "reverse_proxy_drained_hosts",
         "reverse_proxy_lb_try_duration, reverse_proxy_fail_duration, reverse_proxy_health_interval",
         "reverse_proxy_health_uri", "reverse_proxy_static_root", "reverse_proxy_static_keep",
         "reverse_proxy_static_cache_hashed, reverse_proxy_static_cache_other", "reverse_proxy_max_body_size",
         "reverse_proxy_hsts_max_age", "reverse_proxy_extra_site_config", "reverse_proxy_acme_ca",
         "reverse_proxy_acme_ca_root_file", "reverse_proxy_acme_wait", "reverse_proxy_trusted_proxies",
         "reverse_proxy_content_security_policy"],
        [],
    ),
    "hardening": (
        {
            **HARDENING,
            "hardening_ssh_port": 70000,
            "hardening_firewall_ssh_allowed_cidrs": ["10.0.0.300"],
            "hardening_fail2ban_ignoreip": ["198.51.100.0/33"],
            "hardening_firewall_rules": [{"port": [80, 70000], "proto": "tcp"}],
            "hardening_firewall_extra_rules": [{"port": "9100", "sources": ["999.0.0.1"]}],
            "hardening_ssh_allow_groups": ["sudo admins"],
            "hardening_ssh_max_sessions": 0,
            "hardening_ssh_login_grace_time": -1,
            "hardening_ssh_macs": [],
            "hardening_ssh_moduli_min_bits": 1024,
            "hardening_ssh_extra_settings": {"Client Alive Interval": 120},
            "hardening_firewall_icmp_echo_rate": -1,
            "hardening_fail2ban_maxretry": 0,
            "hardening_fail2ban_bantime": "forever",
            "hardening_unattended_upgrades_reboot_time": "4am",
            "hardening_updates_security_mirror": "security.debian.org",
            "hardening_unattended_upgrades_mail": "root@",
            "hardening_sysctl_extra_settings": {"kernel sysrq": 0},
            "hardening_kernel_modules_disabled": ["usb storage"],
            "hardening_login_defs": {"umask": "027"},
            "hardening_shell_idle_timeout": -1,
            "hardening_faillock_deny": 0,
            "hardening_su_group": "su group",
            "hardening_system_shells_keep": ["post gres"],
            "hardening_aide_checksums": "sha521",
            "hardening_aide_excluded_paths": ["srv/data"],
            "hardening_report_units": ["caddy"],
            "hardening_mail_relay_host": "smtp example",
            "hardening_mail_root_alias": "Admin User",
            # A login without TLS is refused; its password (the secret below) is never shown.
            "hardening_mail_relay_user": "reports",
            "hardening_mail_relay_tls": "none",
            "hardening_mail_relay_password": SECRET,
            "hardening_mail_from": "root@",
        },
        ["hardening_ssh_port", "hardening_firewall_ssh_allowed_cidrs", "hardening_fail2ban_ignoreip",
         "hardening_firewall_rules", "hardening_firewall_extra_rules",
         "hardening_ssh_allow_users, hardening_ssh_allow_groups",
         "hardening_ssh_max_auth_tries, hardening_ssh_max_sessions",
         "hardening_ssh_login_grace_time, hardening_ssh_client_alive_interval, hardening_ssh_client_alive_count_max",
         "hardening_ssh_ciphers, hardening_ssh_kex_algorithms, hardening_ssh_macs", "hardening_ssh_moduli_min_bits",
         "hardening_ssh_extra_settings",
         "hardening_firewall_icmp_echo_rate", "hardening_fail2ban_maxretry",
         "hardening_fail2ban_findtime, hardening_fail2ban_bantime", "hardening_unattended_upgrades_reboot_time",
         "hardening_updates_security_mirror", "hardening_unattended_upgrades_mail",
         "hardening_sysctl_settings, hardening_sysctl_extra_settings", "hardening_kernel_modules_disabled",
         "hardening_login_defs", "hardening_shell_idle_timeout",
         "hardening_faillock_deny, hardening_faillock_fail_interval, hardening_faillock_unlock_time",
         "hardening_su_group", "hardening_system_shells_keep",
         "hardening_aide_checksums",
         "hardening_aide_excluded_paths", "hardening_report_units",
         "hardening_mail_relay_host, hardening_mail_relay_port", "hardening_mail_root_alias",
         "hardening_mail_relay_user, hardening_mail_relay_password", "hardening_mail_from"],
        ["not '70000'", "these are not: 70000", "these are not: 999.0.0.1", "these are not: kernel sysrq"],
    ),
    "pgbackrest": (
        {
            # The example inventory's host is the DB host (pgbackrest_role pg), where pgbackrest_pg_host is not
            # checked: check it as the backup host (repository) instead, which also checks pgbackrest_tls_address.
            "pgbackrest_role": "repository",
            "vault_pgbackrest_cipher_pass": "too-short-a-key",
            "pgbackrest_stanza": "main db",
            "pgbackrest_repo_path": "/srv/pgbackrest",
            "pgbackrest_diff_schedule": "daily; reboot",
            "pgbackrest_offhost_full_schedule": "Sun $(reboot)",
            "pgbackrest_offhost_host": "backup host",
            "pgbackrest_pg_host": "db_host",
            "pgbackrest_tls_address": "10.0.0.5/24",
            "pgbackrest_pg_path": "/var/lib/postgresql/15/main/",
            "pgbackrest_restore_target": "2026-12-02 14:05:00",
        },
        ["pgbackrest_cipher_pass", "pgbackrest_stanza", "pgbackrest_repo_path and pgbackrest_offhost_path",
         "schedules", "pgbackrest_offhost_host", "pgbackrest_pg_host", "pgbackrest_tls_address", "pgbackrest_pg_path",
         "pgbackrest_restore_target"],
        ["pgbackrest_cipher_pass is shorter than 20 characters", "pgbackrest_stanza 'main db'",
         "pgbackrest_repo_path ('/srv/pgbackrest') and pgbackrest_offhost_path ('/srv/pgbackrest')",
         "pgbackrest_diff_schedule, pgbackrest_offhost_full_schedule: not a systemd OnCalendar expression",
         "pgbackrest_pg_host 'db_host'", "pgbackrest_restore_target '2026-12-02 14:05:00' is neither"],
    ),
}


@pytest.mark.parametrize("role", list(ROLE_CASES))
def test_each_bad_value_fails_its_own_check(tmp_path, role):
    overrides, labels, texts = ROLE_CASES[role]
    rc, out = run(tmp_path, overrides)
    assert_failed_in_the_preflight(role, rc, out, labels[0])
    failed = re.findall(r"^failed: \[[^\]]+\] \(item=(.+?)\) =>", out, re.M)
    assert sorted(failed) == sorted(labels), f"{role}: failed {failed}, expected {labels}\n{out[-3000:]}"
    errors = "\n".join(re.findall(r"^\[ERROR\]: Task failed: Action failed: (.*)$", out, re.M))
    for text in texts:
        assert text in errors, f"{role}: no message holds {text!r}\n{errors}"
    assert SECRET not in out


@pytest.mark.parametrize("version, sso", [
    ("0.10.1", {"version": 1, "oidc_providers": {"okta": {"client_id": "mathesar", "secret": SECRET}}}),
    ("0.11.0", {"version": 2, "providers": {"okta": {"type": "oidc", "secret": SECRET},
                                            "gh": {"type": "github", "secret": SECRET}}}),
])
def test_mathesar_settings_of_each_version_pass_the_preflight(tmp_path, version, sso):
    settings = {"mathesar_app_version": version, "mathesar_app_sso_config": sso,
                "mathesar_app_file_storage": {"protocol": "s3", "secret": SECRET}}
    if version == "0.11.0":
        settings.update({"mathesar_app_require_sso_login": True, "mathesar_app_per_user_databases": True,
                         "mathesar_app_data_files_backend": "azure",
                         "mathesar_app_data_files_azure_container": "imports",
                         "mathesar_app_data_files_azure_connection_string": SECRET})
    rc, out = run(tmp_path, settings, tags="preflight-probe")
    assert rc == 0, out[-3000:]
    assert "(item=mathesar_app_sso_config)" in out and recap(out)["changed"] == 0
    assert SECRET not in out


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


# The proxy's files mode: a chain from a test PKI (root, intermediate, site) for the example inventory's domain.
DOMAIN = "mathesar.example.org"


def _site_files(folder, names=(DOMAIN,), days=30):
    pki = site_pki.make(folder, list(names), days)
    return {"reverse_proxy_tls_mode": "files", "reverse_proxy_tls_cert_file": str(pki / "fullchain.crt"),
            "reverse_proxy_tls_key_file": str(pki / "site.key"), "reverse_proxy_tls_ca_file": str(pki / "root.crt")}


@pytest.mark.parametrize("names, key_as_text", [((DOMAIN,), False), (("*.example.org",), True)])
def test_a_fitting_site_certificate_passes_the_preflight(tmp_path, names, key_as_text):
    files = _site_files(tmp_path / "pki", names)
    key = pathlib.Path(files["reverse_proxy_tls_key_file"]).read_text()
    if key_as_text:
        files.update({"reverse_proxy_tls_key": key, "reverse_proxy_tls_key_file": ""})
    rc, out = run(tmp_path, files, tags="preflight-probe")
    assert rc == 0, out[-3000:]
    assert "(item=reverse_proxy_tls_cert_file chain)" in out and recap(out)["changed"] == 0
    assert key.strip().splitlines()[1] not in out


SITE_CASES = {
    "key of another certificate": "reverse_proxy_tls_key_file",
    "another name": "reverse_proxy_tls_cert_file names",
    "expired": "reverse_proxy_tls_cert_file expiry",
    "no intermediate": "reverse_proxy_tls_cert_file chain",
    "missing chain file": "reverse_proxy_tls_mode files needs",
}


@pytest.mark.parametrize("case", list(SITE_CASES))
def test_a_site_certificate_that_does_not_fit_fails_before_any_change(tmp_path, case):
    files = _site_files(tmp_path / "pki", ("other.example.com",) if case == "another name" else (DOMAIN,),
                        days=-1 if case == "expired" else 30)
    pki = tmp_path / "pki"
    if case == "key of another certificate":
        files["reverse_proxy_tls_key_file"] = str(site_pki.make(tmp_path / "other", [DOMAIN]) / "site.key")
    if case == "no intermediate":
        files["reverse_proxy_tls_cert_file"] = str(pki / "site.crt")
    if case == "missing chain file":
        files["reverse_proxy_tls_cert_file"] = str(pki / "no-such.crt")
    rc, out = run(tmp_path, files)
    assert_failed_in_the_preflight(case, rc, out, SITE_CASES[case])
    if case != "missing chain file":
        failed = re.findall(r"^failed: \[[^\]]+\] \(item=(.+?)\) =>", out, re.M)
        assert failed == [SITE_CASES[case]], (case, failed)
