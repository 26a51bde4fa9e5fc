"""The hardening scenario's checks over real SSH: key logins only, fail2ban, the lockout-safe preflight, the port
scan of the same-host layout, the set-id audit's report, and Lynis before and after."""

import os
import pathlib
import subprocess
import time

import ansible_mitogen
import lynis_report
import pytest
from conftest import open_tcp_ports, output, probe_listener, recap, run_converge, tcp_connects

testinfra_hosts = ["mathesar_app"]

ADDRESS = "172.30.98.10"
OUTSIDER_ADDRESS = "172.30.98.12"
# The controller's address on the test network (the gateway), in fail2ban's ignoreip:
# ../../vars/test-hardening-ssh.yml.
ADMIN_ADDRESS = "172.30.98.1"
EPHEMERAL = pathlib.Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
KEY = EPHEMERAL / "admin_ed25519"
DROPIN = "/etc/ssh/sshd_config.d/00-mathesar-deploy.conf"
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def ssh_from_controller(*args, user="root", key=True, extra=()):
    argv = ["ssh", *SSH_OPTS, *extra]
    if key:
        argv += ["-i", str(KEY), "-o", "IdentitiesOnly=yes"]
    else:
        argv += ["-o", "PubkeyAuthentication=no"]
    return subprocess.run([*argv, f"{user}@{ADDRESS}", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_key_login_works():
    result = ssh_from_controller("id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "root"


def test_a_rerun_under_mitogen_changes_nothing():
    """The opt-in of README ("Faster runs with Mitogen", the pip package pinned in requirements-dev.txt): the whole
    playbook again with Mitogen's strategy, over SSH to the hardened host, runs every task and changes nothing.
    -vvv shows that Mitogen carried the SSH host's tasks: Ansible's own ssh plugin says "<address> ESTABLISH SSH
    CONNECTION" for each command it runs (at -vvv), Mitogen's never does."""
    plugins = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
    run = run_converge("-vvv", env={"ANSIBLE_STRATEGY_PLUGINS": plugins, "ANSIBLE_STRATEGY": "mitogen_linear"})
    hosts = recap(run.stdout)
    assert run.returncode == 0 and hosts and all(c == "0" and f == "0" for c, f in hosts), output(run)[-3000:]
    assert f"<{ADDRESS}> ESTABLISH SSH CONNECTION" not in run.stdout, "Ansible's ssh plugin ran tasks, not Mitogen's"
    assert "task path: " in run.stdout, "the run was not verbose"


@pytest.mark.parametrize("user", ["root", "mathesar", "nosuchuser"])
def test_password_logins_are_refused_from_the_controller(user):
    result = ssh_from_controller("true", user=user, key=False,
                                 extra=["-o", "PreferredAuthentications=password,keyboard-interactive"])
    assert result.returncode == 255
    # The server offers nothing but public keys.
    assert "Permission denied (publickey)" in result.stderr, result.stderr


def test_password_login_is_refused_from_the_outsider(outsider):
    result = outsider.run(f"ssh {' '.join(SSH_OPTS)} -o PubkeyAuthentication=no "
                          f"-o PreferredAuthentications=password,keyboard-interactive root@{ADDRESS} true")
    assert result.rc == 255
    assert "Permission denied (publickey)" in result.stderr, result.stderr


def test_port_scan_from_the_outsider_finds_only_ssh_and_https(host, outsider):
    """A full TCP scan; a listener on every address (port 8081) must stay hidden: the firewall decides, not only
    the services' bind addresses."""
    with probe_listener(host, 8081):
        assert tcp_connects(host, "127.0.0.1", 8081)
        found = open_tcp_ports(outsider, ADDRESS)
    print(f"open TCP ports of the same-host server seen from the outsider: {found}")
    assert found[ADDRESS] == {22, 80, 443}


def _banned(host):
    status = host.run("fail2ban-client status sshd")
    assert status.rc == 0, status.stderr
    line = next(line for line in status.stdout.splitlines() if "Banned IP list" in line)
    return line.split(":", 1)[1].split()


def test_fail2ban_bans_the_outsider_but_not_the_admin(host, outsider):
    try:
        # Bot traffic: logins as users that do not exist, from the admin's address and from the outsider, until
        # the outsider is banned. A ban that lands during an attempt drops that connection's packets: `timeout`
        # ends the client then (ConnectTimeout covers only the TCP connect; a stuck client once hung for minutes).
        for attempt in range(7):
            ssh_from_controller("true", user=f"admin{attempt}", key=False)
            outsider.run(f"timeout 15 ssh {' '.join(SSH_OPTS)} -o PubkeyAuthentication=no "
                         f"admin{attempt}@{ADDRESS} true")
            if OUTSIDER_ADDRESS in _banned(host):
                break
        deadline = time.monotonic() + 30
        while OUTSIDER_ADDRESS not in _banned(host):
            assert time.monotonic() < deadline, f"the outsider was not banned: {_banned(host)}"
            time.sleep(1)
        banned = _banned(host)
        print(f"fail2ban sshd jail, banned: {banned}")
        assert ADMIN_ADDRESS not in banned
        # The ban is in force: the outsider cannot even open a TCP connection to sshd; the admin still logs in.
        assert not tcp_connects(outsider, ADDRESS, 22)
        assert ssh_from_controller("true").returncode == 0
    finally:
        host.run(f"fail2ban-client set sshd unbanip {OUTSIDER_ADDRESS}")
    assert tcp_connects(outsider, ADDRESS, 22)


def _converge(*args, env=None):
    playbook = os.path.join(os.environ["VIRTUAL_ENV"], "bin", "ansible-playbook")
    return subprocess.run([playbook, "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), *args],
                          capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, **(env or {})})


def _assert_refused_untouched(host, run, before, message):
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    assert "PLAY [Mathesar on one host]" not in output
    assert all(changed == "0" for changed, _ in recap(run.stdout))
    assert host.file(DROPIN).sha256sum == before
    assert "maxauthtries 3" in host.run("sshd -T").stdout


def test_preflight_refuses_an_admin_without_a_key(host):
    """A run that would change sshd (MaxAuthTries 4) with an admin who has no key stops before any change."""
    before = host.file(DROPIN).sha256sum
    assert host.run("useradd -m -s /bin/bash nokeyadmin").rc == 0
    try:
        run = _converge("-e", '{"hardening_ssh_admin_users": ["root", "nokeyadmin"], '
                              '"hardening_ssh_max_auth_tries": 4}')
    finally:
        host.run("userdel -r nokeyadmin")
    _assert_refused_untouched(host, run, before, "admin user 'nokeyadmin'")
    assert "no public key in .ssh/authorized_keys" in run.stdout + run.stderr


def test_preflight_refuses_when_the_connecting_user_has_no_key(host, tmp_path):
    """Ansible still reaches the host through an already open SSH connection (a multiplexing master), but root's
    authorized_keys is gone: a key-only login would fail, so the preflight stops before sshd changes."""
    before = host.file(DROPIN).sha256sum
    control = str(tmp_path / "master")
    master = subprocess.run(["ssh", *SSH_OPTS, "-i", str(KEY), "-o", "IdentitiesOnly=yes", "-o", "ControlMaster=yes",
                             "-o", f"ControlPath={control}", "-o", "ControlPersist=120", "-fN", f"root@{ADDRESS}"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert master.returncode == 0, master.stderr

    def through_master(command):
        return subprocess.run(["ssh", *SSH_OPTS, "-o", f"ControlPath={control}", f"root@{ADDRESS}", command],
                              capture_output=True, text=True, timeout=60, check=False)

    assert through_master("mv /root/.ssh/authorized_keys /root/.ssh/authorized_keys.away").returncode == 0
    try:
        assert ssh_from_controller("true").returncode == 255, "the key still works; the test set-up is wrong"
        run = _converge("-e", "hardening_ssh_max_auth_tries=4",
                        env={"ANSIBLE_SSH_ARGS":
                             f"-o ControlMaster=auto -o ControlPersist=60s -o ControlPath={control}"})
    finally:
        restored = through_master("mv /root/.ssh/authorized_keys.away /root/.ssh/authorized_keys")
        subprocess.run(["ssh", "-o", f"ControlPath={control}", "-O", "exit", f"root@{ADDRESS}"],
                       capture_output=True, timeout=30, check=False)
    assert restored.returncode == 0, restored.stderr
    assert ssh_from_controller("true").returncode == 0
    _assert_refused_untouched(host, run, before, "a login with a key alone failed")


def test_lynis_hardening_index(host, capsys):
    """Lynis on the same container as in prepare (bare image with sshd), now hardened with Mathesar running."""
    before, version = lynis_report.index((EPHEMERAL / "lynis-before.txt").read_text())
    audit = host.run("lynis audit system --quick --no-colors")
    assert audit.rc == 0, audit.stderr
    after, _ = lynis_report.index(host.file("/var/log/lynis-report.dat").content_string)
    release = host.system_info.codename
    left = lynis_report.points_left(host.file("/var/log/lynis.log").content_string)
    with capsys.disabled():
        print(f"\nLYNIS {version} on Debian {release}: hardening_index before={before} after={after}")
        print(f"LYNIS points not given, per test: {left}")
    if version.startswith("3.0."):
        # The issue measured on this image: bare with sshd 58, dev-sec's roles 71, dev-sec plus a careful admin's
        # extras 75, and aimed at 80, which the role reaches (AIDE, debsums, MaxSessions 2, compilers root-only, ...).
        # What stays out of reach here is printed above and explained in docs/hardening.md: kernel sysctls,
        # partitions and AppArmor need a VM; the rest would mean installing tools only for Lynis (USBGuard, a malware
        # scanner) or weakening something (umask 027, password ageing).
        assert after >= 80 and after >= before + 20, f"Lynis {version}: {before} -> {after}"
    else:
        # Lynis 3.1 scores on another scale (see docs/hardening.md): the figure is recorded, and must improve.
        assert after >= before + 10, f"Lynis {version}: {before} -> {after}"


def test_the_run_names_a_set_id_program_that_nobody_listed(host):
    """The set-id audit (hardening_suid_sgid_allowed): a set-uid copy of `true` planted in /usr/local/bin is named
    in the next run's output, which changes nothing for it."""
    planted = "/usr/local/bin/mdt-planted-setuid"
    assert host.run(f"install -m 4755 /usr/bin/true {planted}").rc == 0
    try:
        run = run_converge("--tags", "hardening_suid_sgid")
        text = output(run)
        assert run.returncode == 0, text[-3000:]
        assert "set-id programs not in hardening_suid_sgid_allowed" in text and planted in text, text[-3000:]
        assert all(c == "0" for c, _ in recap(run.stdout)), run.stdout[-2000:]
        assert host.file(planted).mode == 0o4755
    finally:
        host.run(f"rm -f {planted}")
