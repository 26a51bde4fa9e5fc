"""Checks only the same-host layout has."""

import os

from conftest import recap, run_converge

testinfra_hosts = [os.environ.get("MATHESAR_TEST_DB_GROUP", "mathesar_db")]

UBUNTU = 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n'


def test_postgres_listens_on_loopback_only(host):
    listeners = host.run("ss -Htln").stdout.splitlines()
    addresses = {line.split()[3] for line in listeners if line.split()[3].endswith(":5432")}
    assert addresses and addresses <= {"127.0.0.1:5432", "[::1]:5432"}, addresses


def test_unsupported_os_is_refused_before_any_change(host):
    """With /etc/os-release saying Ubuntu, Ansible's own facts report Ubuntu: the preflight must stop the run."""
    assert host.run("cp -a /etc/os-release /root/os-release.orig && rm /etc/os-release && "
                    f"printf '{UBUNTU}' > /etc/os-release").rc == 0
    try:
        run = run_converge()
    finally:
        host.run("mv /root/os-release.orig /etc/os-release")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Ubuntu 24 is not supported" in output, output[-2000:]
    assert "Preflight (changes nothing)" in output and "PLAY [Mathesar] " not in output
    assert all(changed == "0" for changed, _ in recap(run.stdout))
    assert host.run("grep -q '^ID=debian' /etc/os-release").rc == 0
