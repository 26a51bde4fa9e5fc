"""The hardening role's result on every hardened host of every layout (firewall, sshd, fail2ban, updates, limits)."""

import json
import os
import re

import pytest
from conftest import HARDENING_DEFAULTS, HARDENING_VARS, names_in_group, smtp_listeners

# The hosts site.yml hardens, and external_db's bare host (the hardening role alone); groups a layout does not
# have match nothing.
testinfra_hosts = ["mathesar_app", "mathesar_lb", "mathesar_db", "mathesar_backup", "bare_host"]


def _groups(host):
    return set(host.ansible.get_variables()["group_names"])


@pytest.fixture(autouse=True)
def _hardened(host, request):
    hardening = os.environ.get("MATHESAR_TEST_HARDENING", "on")
    if hardening == "off" and "bare_host" not in _groups(host):
        pytest.skip("SKIPPED LOUDLY: this scenario converges with mathesar_hardening_enabled false (CI time budget); "
                    "the scenarios hardening and separate_hosts (and same_host, when named) run these checks on "
                    "hardened hosts")
    if hardening == "firewall" and not request.node.name.startswith("test_firewall"):
        pytest.skip("SKIPPED LOUDLY: this scenario converges with the hardening role's firewall concern alone (CI "
                    "time budget); the scenarios hardening and separate_hosts run this check on fully hardened hosts")


def _input_chain(host):
    listed = host.run("nft -j list chain inet mathesar_deploy input")
    assert listed.rc == 0, listed.stderr
    items = json.loads(listed.stdout)["nftables"]
    chain = next(item["chain"] for item in items if "chain" in item)
    rules = [item["rule"] for item in items if "rule" in item]
    return chain, rules


def _accepted_tcp_ports(rules):
    """{port: sources} for each accepting tcp dport rule; sources None means from anywhere."""
    accepted = {}
    for rule in rules:
        expr = rule["expr"]
        if not any("accept" in e for e in expr):
            continue
        ports, sources = None, None
        for e in expr:
            match = e.get("match", {})
            left, right = match.get("left", {}), match.get("right")
            if left.get("payload", {}).get("protocol") == "tcp" and left["payload"].get("field") == "dport":
                ports = right["set"] if isinstance(right, dict) and "set" in right else [right]
            if left.get("payload", {}).get("field") == "saddr":
                values = right["set"] if isinstance(right, dict) and "set" in right else [right]
                sources = [v["prefix"]["addr"] + "/" + str(v["prefix"]["len"]) if isinstance(v, dict) else v
                           for v in values]
        for port in ports or []:
            accepted.setdefault(port, []).append(sources)
    return accepted


def test_firewall_drops_by_default_and_opens_what_the_host_serves(host):
    chain, rules = _input_chain(host)
    assert chain["hook"] == "input" and chain["policy"] == "drop"
    accepted = _accepted_tcp_ports(rules)
    groups = _groups(host)
    every_group = host.ansible.get_variables()["groups"]
    # PostgreSQL is open on a DB host that app hosts reach over the network (not on the same-host layout's). The web
    # ports on the site's proxy: the load balancers if there are any, else the app hosts; then the app hosts open
    # gunicorn's port to the balancers alone.
    networked_db = "mathesar_db" in groups and "mathesar_app" not in groups
    balanced = bool(every_group.get("mathesar_lb"))
    proxy = "mathesar_lb" in groups or ("mathesar_app" in groups and not balanced)
    expected = ({22} | ({80, 443} if proxy else set()) | ({5432} if networked_db else set())
                | ({8000} if balanced and "mathesar_app" in groups else set()))
    if "bare_host" in groups:
        expected.add(8080)
    # pgBackRest's TLS server, between the DB host and the backup host only.
    backup_pair = bool(host.ansible.get_variables()["groups"].get("mathesar_backup"))
    if backup_pair and groups & {"mathesar_db", "mathesar_backup"}:
        expected.add(8432)
    assert set(accepted) == expected, accepted
    if 8432 in expected:
        assert None not in accepted[8432] and len(accepted[8432]) == 1, accepted[8432]
    if 8000 in expected:
        # One rule, from the balancers' addresses only.
        assert len(accepted[8000]) == 1 and accepted[8000][0], accepted[8000]
        assert len(accepted[8000][0]) == len(every_group["mathesar_lb"]), accepted[8000]
    assert accepted[22] == [None], "SSH should be open to any address by default"
    if networked_db:
        # PostgreSQL only from the app hosts' private addresses, never from anywhere.
        assert None not in accepted[5432] and accepted[5432], accepted[5432]
    # Established connections (Ansible's own) pass before the policy applies.
    assert any("ct" in str(rule["expr"]) and "established" in str(rule["expr"]) for rule in rules)


def test_firewall_is_loaded_at_boot(host):
    assert host.service("nftables").is_enabled
    assert host.run("nft -c -f /etc/nftables.conf").rc == 0


def test_sshd_is_key_only_with_modern_algorithms(host):
    shown = host.run("sshd -T -C user=root,host=localhost,addr=127.0.0.1")
    assert shown.rc == 0, shown.stderr
    settings = dict(line.split(" ", 1) for line in shown.stdout.splitlines() if " " in line)
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] == "without-password"
    assert settings["authenticationmethods"] == "publickey"
    assert settings["x11forwarding"] == "no"
    assert settings["allowtcpforwarding"] == "no"
    assert settings["allowagentforwarding"] == "no"
    assert settings["loglevel"] == "VERBOSE"
    assert settings["maxauthtries"] == "3"
    assert settings["banner"] == "/etc/issue.net"
    assert not any("cbc" in c or "3des" in c for c in settings["ciphers"].split(","))
    assert all(mac.endswith("-etm@openssh.com") for mac in settings["macs"].split(","))
    kex = settings["kexalgorithms"].split(",")
    release = host.system_info.release.split(".")[0]
    first = {"12": "sntrup761x25519-sha512@openssh.com", "13": "mlkem768x25519-sha256"}[release]
    assert kex[0] == first and not any(k.endswith("sha1") for k in kex), kex
    assert host.service("ssh").is_running


def test_fail2ban_watches_sshd_through_the_journal(host):
    status = host.run("fail2ban-client status sshd")
    assert status.rc == 0, status.stderr
    assert "_COMM=sshd" in status.stdout
    assert "127.0.0.0/8" in host.run("fail2ban-client get sshd ignoreip").stdout
    assert "nftables" in host.run("fail2ban-client get sshd actions").stdout


def test_unattended_upgrades_take_security_updates_only(host):
    dump = host.run("apt-config dump Unattended-Upgrade").stdout
    origins = [line for line in dump.splitlines() if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")]
    assert origins and all("label=Debian-Security" in line for line in origins), origins
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    periodic = host.run("apt-config dump APT::Periodic").stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    codename = host.system_info.codename
    assert host.run(f"grep -rqs -- '{codename}-security' /etc/apt/sources.list /etc/apt/sources.list.d").rc == 0


def test_core_dumps_are_off_for_login_sessions(host):
    # A login session (PAM, limits.d) gets a hard core limit of 0.
    assert host.run("runuser -l root -c 'ulimit -Hc'").stdout.strip() == "0"
    sysctl = host.file("/etc/sysctl.d/99-zz-mathesar-deploy.conf").content_string
    assert "fs.suid_dumpable = 0" in sysctl and "fs.protected_fifos = 2" in sysctl, sysctl
    # After every file of systemd-sysctl's folders (it applies them in name order, the last value winning), so no
    # vendor file undoes a setting; the name of earlier versions is gone.
    names = host.check_output("ls /etc/sysctl.d /usr/lib/sysctl.d /run/sysctl.d 2>/dev/null | grep '\\.conf$' || true")
    assert sorted(names.split())[-1] == "99-zz-mathesar-deploy.conf", names
    assert not host.file("/etc/sysctl.d/90-mathesar-deploy.conf").exists
    assert "Storage=none" in host.file("/etc/systemd/coredump.conf.d/90-mathesar-deploy.conf").content_string


def test_sysctl_file_sets_the_network_and_kernel_settings(host):
    lines = host.file("/etc/sysctl.d/99-zz-mathesar-deploy.conf").content_string.splitlines()
    written = dict(line.split(" = ", 1) for line in lines if " = " in line and not line.startswith("#"))
    expected = {"net.ipv4.conf.all.accept_local": "0", "net.ipv4.conf.all.route_localnet": "0",
                "net.ipv4.conf.all.arp_filter": "0", "net.ipv4.conf.all.shared_media": "0",
                "net.ipv4.conf.default.shared_media": "0", "net.ipv4.tcp_rfc1337": "1", "vm.mmap_min_addr": "65536",
                "kernel.perf_cpu_time_max_percent": "1", "kernel.perf_event_max_sample_rate": "1",
                "kernel.kptr_restrict": "2", "net.ipv4.conf.all.rp_filter": "1"}
    assert {name: written.get(name) for name in expected} == expected, written
    # Left to systemd (kernel.pid_max 4194304 in 50-pid-max.conf) and the kernel (arp_ignore 0) on purpose.
    assert "kernel.pid_max" not in written and "net.ipv4.conf.all.arp_ignore" not in written, written
    # These names are real kernel settings (a misspelt one would only make systemd-sysctl warn at boot). /proc/sys
    # is the host's kernel in a container; the test bed's lacks some of the role's others (sysrq, Yama).
    missing = [name for name in expected if not host.file("/proc/sys/" + name.replace(".", "/")).exists]
    assert missing == [], missing


def test_umask_keeps_files_readable_for_the_proxy(host):
    assert host.run("grep -E '^UMASK\\s+022$' /etc/login.defs").rc == 0


def test_password_strength_check_has_its_dictionary(host):
    """pam_pwquality checks new passwords against cracklib's dictionary; without it every password is refused."""
    weak = host.run("echo password | cracklib-check")
    assert weak.rc == 0 and "dictionary word" in weak.stdout, weak.stdout + weak.stderr
    strong = host.run("echo 'Tr4vel-Quietly-Over-Mountains' | cracklib-check")
    assert strong.rc == 0 and strong.stdout.strip().endswith(": OK"), strong.stdout + strong.stderr


@pytest.mark.parametrize("path", ["/etc/issue", "/etc/issue.net"])
def test_legal_banner(host, path):
    assert "Authorized access only" in host.file(path).content_string


def test_sudo_runs_commands_in_a_pty_and_logs_them(host):
    policy = host.file("/etc/sudoers.d/zz-mathesar-deploy")
    assert policy.mode == 0o440 and policy.user == "root", (oct(policy.mode), policy.user)
    assert "Defaults ignore_dot" in policy.content_string.splitlines()
    folder = host.file("/etc/sudoers.d")
    assert folder.mode == 0o750 and folder.user == "root" and folder.group == "root", oct(folder.mode)
    assert host.run("visudo -c").rc == 0
    # The Defaults sudo really applies, as parsed from every file.
    defaults = host.check_output("sudo -l -U root")
    assert "use_pty" in defaults and "logfile=/var/log/sudo.log" in defaults and "ignore_dot" in defaults, defaults
    # A command through sudo leaves a line in the log file (besides the journal).
    marker = "mathesar-deploy-sudo-check"
    assert host.run(f"sudo -u nobody /bin/true {marker}").rc == 0
    assert marker in host.file("/var/log/sudo.log").content_string


def test_sudo_log_is_rotated(host):
    assert host.package("logrotate").is_installed
    assert host.service("logrotate.timer").is_enabled
    rule = host.file("/etc/logrotate.d/mathesar-deploy-sudo")
    assert rule.mode == 0o644 and rule.user == "root", oct(rule.mode)
    # logrotate accepts the rule as installed, and reads the sudo log's block from it.
    dry = host.run("logrotate -d /etc/logrotate.d/mathesar-deploy-sudo")
    assert dry.rc == 0 and "/var/log/sudo.log" in dry.stdout + dry.stderr, dry.stdout + dry.stderr
    # A forced rotation of a copy of the rule, aimed at a test file with a state file of its own: the real log and
    # logrotate's state stay untouched.
    work = host.check_output("mktemp -d /root/logrotate-check.XXXXXX")
    try:
        log = f"{work}/sudo.log"
        host.check_output(f"sed 's|/var/log/sudo.log|{log}|' {rule.path} > {work}/rule && echo line > {log}")
        rotated = host.run(f"logrotate -f -s {work}/state {work}/rule")
        assert rotated.rc == 0, rotated.stdout + rotated.stderr
        assert host.file(f"{log}.1").content_string == "line\n"
        fresh = host.file(log)
        assert fresh.exists and fresh.size == 0 and fresh.mode == 0o600 and fresh.user == "root", oct(fresh.mode)
    finally:
        host.run(f"rm -rf {work}")


def test_journal_is_kept_on_disk(host):
    assert "Storage=persistent" in host.file("/etc/systemd/journald.conf.d/90-mathesar-deploy.conf").content_string
    # journald writes to /var/log/journal/<machine-id>/ once it runs with the drop-in, so a reboot keeps the logs.
    on_disk = host.run("ls /var/log/journal/*/system.journal")
    assert on_disk.rc == 0, on_disk.stderr


def test_only_root_schedules_jobs_and_reads_the_system_crontabs(host):
    assert host.file("/etc/cron.allow").content_string.splitlines()[1:] == ["root"]
    assert not host.file("/etc/cron.deny").exists
    assert host.file("/etc/crontab").mode == 0o600
    for folder in ("/etc/cron.d", "/etc/cron.daily"):
        assert host.file(folder).mode == 0o700, folder
    # Another user is refused a crontab.
    refused = host.run("runuser -u nobody -- crontab -l")
    assert refused.rc != 0 and "not allowed" in (refused.stdout + refused.stderr), refused.stdout + refused.stderr


def _pam_lines(host, path):
    return [line.split() for line in host.file(path).content_string.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_faillock_locks_accounts_but_never_root(host):
    # Exactly these settings: no even_deny_root (a flag without a value), so root is never locked.
    conf = [line.replace(" ", "") for line in host.file("/etc/security/faillock.conf").content_string.splitlines()
            if line.strip() and not line.startswith("#")]
    assert conf == ["deny=5", "fail_interval=900", "unlock_time=900"], conf
    # pam-auth-update's result: preauth before pam_unix, authfail after it, the reset in the account stack.
    auth = [" ".join(fields[1:]) for fields in _pam_lines(host, "/etc/pam.d/common-auth")]
    preauth = auth.index("requisite pam_faillock.so preauth")
    unix = next(i for i, line in enumerate(auth) if "pam_unix.so" in line)
    assert preauth < unix < auth.index("[default=die] pam_faillock.so authfail"), auth
    assert ["account", "required", "pam_faillock.so"] in _pam_lines(host, "/etc/pam.d/common-account")


def _first_hardened_host(host):
    """Whether host is the first hardened host of the scenario, in testinfra_hosts' order of groups."""
    off = os.environ.get("MATHESAR_TEST_HARDENING", "on") == "off"
    for group in testinfra_hosts:
        names = names_in_group(group)
        if names and not (off and group != "bare_host"):
            return host.backend.get_hostname() == names[0]
    return False


def test_five_failed_logins_lock_an_account(host):
    """A real lockout, through sudo's password prompt (PAM's common-auth): the right password gets past
    authentication (then sudo's policy refuses the user), until 5 wrong ones lock the account."""
    if not _first_hardened_host(host):
        pytest.skip("SKIPPED LOUDLY: the real lockout runs on the scenario's first hardened host (every host has the "
                    "same PAM stack, checked above; each lockout waits about 20 s for PAM's failure delays)")
    user, password = "lockcheck", "Tr4vel-Quietly-Over-Mountains"
    assert host.run(f"useradd -M -s /usr/sbin/nologin {user}").rc == 0
    try:
        assert host.run(f"echo '{user}:{password}' | chpasswd").rc == 0
        sudo = f"timeout 30 runuser -u {user} -- sudo -S -k true"
        right = host.run(f"echo '{password}' | {sudo}")
        assert "is not in the sudoers file" in right.stderr, right.stderr
        for _ in range(2):
            host.run(f"printf 'wrong\\nwrong\\nwrong\\n' | {sudo}")
        records = host.run(f"faillock --user {user}").stdout
        assert sum(line.rstrip().endswith(" V") for line in records.splitlines()) >= 5, records
        locked = host.run(f"echo '{password}' | {sudo}")
        assert locked.rc != 0 and "is not in the sudoers file" not in locked.stderr, locked.stderr
    finally:
        host.run(f"faillock --user {user} --reset")
        host.run(f"userdel {user}")


def test_only_the_su_group_may_use_su(host):
    assert host.group("sugroup").exists
    assert host.check_output("getent group sugroup").split(":")[3] == "", "the su group should be empty"
    auth = [" ".join(fields) for fields in _pam_lines(host, "/etc/pam.d/su") if fields[0] == "auth"]
    # pam_rootok first, so root keeps su; then the group check.
    assert auth[:2] == ["auth sufficient pam_rootok.so", "auth required pam_wheel.so use_uid group=sugroup"], auth
    # A real attempt: a user who is not in the group gives another user's right password and is refused; in the
    # group, the same attempt works. The password comes on stdin (PAM's prompt reads it there), so nothing waits.
    target, other, password = "sutarget", "suother", "Tr4vel-Quietly-Over-Mountains"
    for user in (target, other):
        assert host.run(f"useradd -M -s /bin/sh {user}").rc == 0
    try:
        assert host.run(f"echo '{target}:{password}' | chpasswd").rc == 0
        su = f"echo '{password}' | timeout 20 runuser -u {other} -- su -c 'id -un' {target}"
        refused = host.run(su)
        assert refused.rc != 0 and "Permission denied" in refused.stderr, refused.stdout + refused.stderr
        assert host.run(f"gpasswd -a {other} sugroup").rc == 0
        allowed = host.run(su)
        assert allowed.rc == 0 and allowed.stdout.strip() == target, allowed.stdout + allowed.stderr
        # root needs no group and no password.
        assert host.check_output(f"su -s /bin/sh -c 'id -un' {target} </dev/null") == target
    finally:
        host.run(f"gpasswd -d {other} sugroup")
        host.run(f"faillock --user {target} --reset")
        for user in (target, other):
            host.run(f"userdel {user}")


def test_system_accounts_have_no_login_shell_and_no_usable_password(host):
    uid_min = int(re.search(r"(?m)^\s*UID_MIN\s+(\d+)", host.file("/etc/login.defs").content_string).group(1))
    shells = {line.strip() for line in host.file("/etc/shells").content_string.splitlines() if line.startswith("/")}
    shadow = dict(line.split(":")[:2] for line in host.check_output("getent -s files shadow").splitlines())
    still_open = {}
    for line in host.check_output("getent -s files passwd").splitlines():
        name, _, uid, _, _, _, shell = line.split(":")
        if int(uid) >= uid_min or name in ("root", "sync", "shutdown", "halt"):
            continue
        if shell in shells or not shadow.get(name, "!").startswith(("!", "*")):
            still_open[name] = (shell, shadow.get(name, "")[:1])
    assert still_open == {}, still_open
    if "mathesar_db" in _groups(host):
        # Debian gives postgres /bin/bash; it goes, and work as postgres goes on without a login shell (the
        # converge's second run, idempotence, ran the postgres role's become_user tasks after it).
        assert host.user("postgres").shell == "/usr/sbin/nologin"
        assert host.check_output("runuser -u postgres -- psql -XAtc 'SELECT 1'") == "1"


@pytest.mark.parametrize("path", ["/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/00-mathesar-deploy.conf",
                                  "/etc/ssh/sshd_config.d/01-mathesar-deploy-hostkeys.conf"])
def test_sshd_configuration_is_roots_alone(host, path):
    config = host.file(path)
    assert config.mode == 0o600 and config.user == "root" and config.group == "root", (path, oct(config.mode))


def test_sshd_offers_only_ed25519_and_strong_rsa_host_keys(host):
    shown = host.run("sshd -T -C user=root,host=localhost,addr=127.0.0.1")
    assert shown.rc == 0, shown.stderr
    lines = shown.stdout.splitlines()
    hostkeys = sorted(line.split(" ", 1)[1] for line in lines if line.startswith("hostkey "))
    assert hostkeys == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"], hostkeys
    assert "hostkeyalgorithms ssh-ed25519,rsa-sha2-512,rsa-sha2-256" in lines
    assert int(host.check_output("ssh-keygen -l -f /etc/ssh/ssh_host_rsa_key.pub").split()[0]) >= 3072
    for kind in ("ecdsa", "dsa"):
        assert not host.file(f"/etc/ssh/ssh_host_{kind}_key").exists, kind
    # What a client is really offered.
    scan = host.run("ssh-keyscan -T 10 127.0.0.1")
    offered = {line.split()[1] for line in scan.stdout.splitlines() if line and not line.startswith("#")}
    assert offered == {"ssh-ed25519", "ssh-rsa"}, scan.stdout + scan.stderr


def test_moduli_holds_no_prime_under_3072_bits(host):
    # The size field is the prime's length in bits minus one.
    sizes = host.check_output("awk '!/^#/ && NF >= 7 {print $5}' /etc/ssh/moduli | sort -un").split()
    assert sizes and min(int(size) for size in sizes) >= 3071, sizes


def test_mail_has_a_transport_that_listens_on_loopback_only(host):
    """Reports by mail (cron's output, debsums, AIDE, unattended-upgrades) have a transport: Postfix, whose smtpd
    listens on loopback only. Where they go (a smarthost, or root's mailbox) is layouts/hardening_mail/'s part."""
    assert host.file("/usr/sbin/sendmail").exists
    assert host.service("postfix").is_running and host.service("postfix").is_enabled
    listeners = smtp_listeners(host)
    assert listeners and listeners <= {"127.0.0.1:25", "[::1]:25"}, listeners
    assert host.run("postconf -h inet_interfaces").stdout.strip() == "loopback-only"
    assert 'Unattended-Upgrade::Mail "root";' in host.run("apt-config dump Unattended-Upgrade::Mail").stdout


def test_set_id_bits_are_gone_where_a_server_does_not_need_them(host):
    """The role's default lists: the programs of hardening_suid_sgid_removed keep their owner and mode but lose the
    set-id bits, through dpkg-statoverride; every set-id program left is one that hardening_suid_sgid_allowed lists
    (so the run's audit names none on these hosts)."""
    overrides = {line.split()[-1]: line.split()[:3] for line in host.check_output("dpkg-statoverride --list")
                 .splitlines()}
    checked = 0
    for path in HARDENING_DEFAULTS["hardening_suid_sgid_removed"]:
        program = host.file(path)
        if not program.exists:
            continue
        checked += 1
        assert program.mode & 0o6000 == 0, f"{path} is still set-id: {oct(program.mode)}"
        assert overrides.get(path) == [program.user, program.group, f"{program.mode:o}"], (path, overrides.get(path))
    assert checked >= 5, "fewer of the default list's programs than Debian installs were found"
    found = set(host.check_output("find / -xdev -type f -perm /6000").split())
    assert {"/usr/bin/sudo", "/usr/bin/passwd"} <= found, found
    allowed = set(HARDENING_DEFAULTS["hardening_suid_sgid_allowed"])
    assert found <= allowed, sorted(found - allowed)


def _in_container(host):
    return host.run("systemd-detect-virt --container").rc == 0


def test_chrony_keeps_the_clock_with_no_command_port(host):
    """The clock concern: chrony instead of systemd-timesyncd, Debian's pool (no server named here), the command
    port closed, every file as chronyd itself parses it. A container's clock is the host's: chrony.service's
    CAP_SYS_TIME condition keeps it from starting there, as the role says; tests/benchmarks/vm-hardening.sh shows
    it synchronising on a VM."""
    assert host.package("chrony").is_installed
    assert not host.package("systemd-timesyncd").is_installed
    parsed = host.run("chronyd -p -f /etc/chrony/chrony.conf")
    assert parsed.rc == 0, parsed.stderr
    directives = parsed.stdout.splitlines()
    assert "cmdport 0" in directives
    assert [line for line in directives if line.startswith(("pool ", "server "))] == [
        "pool 2.debian.pool.ntp.org iburst"]
    assert not host.file("/etc/chrony/sources.d/mathesar-deploy.sources").exists
    assert host.service("chrony").is_enabled
    if _in_container(host):
        state = host.check_output("systemctl show chrony -p ConditionResult -p ActiveState").split()
        assert sorted(state) == ["ActiveState=inactive", "ConditionResult=no"], state
    else:
        assert host.service("chrony").is_running


def test_audit_rules_are_written_and_auditd_stays_off_in_a_container(host):
    """The audit concern: the role's rules, then the watches of the host's own services' configuration (the example
    inventory's hardening_audit_watched_paths), root's alone. The audit subsystem is the host kernel's: in a
    container auditd is left disabled and not failed (systemd not degraded by it). Loading the rules needs a kernel
    of the host's own: tests/benchmarks/vm-hardening.sh loads them on a VM and reads an event back."""
    rules = host.file("/etc/audit/rules.d/50-mathesar-deploy.rules")
    assert (rules.user, rules.group, rules.mode) == ("root", "root", 0o640)
    lines = [line for line in rules.content_string.splitlines() if not line.startswith("#")]
    role_rules = [rule for rule in HARDENING_VARS["__hardening_audit_rules"] if not rule.startswith("#")]
    assert len(role_rules) >= 30 and lines[:len(role_rules)] == role_rules
    # Then the watch on sudo's log (the sudo concern is on wherever the role runs in the scenarios).
    assert lines[len(role_rules)] == f"-w {HARDENING_DEFAULTS['hardening_sudo_logfile']} -p wa -k sudo-log"
    lines = lines[len(role_rules) + 1:]
    watched = {line.split()[1] for line in lines}
    groups = _groups(host)
    expected = ({"/opt/mathesar/shared/config"} if "mathesar_app" in groups else set()) | (
        {"/etc/postgresql"} if "mathesar_db" in groups else set())
    assert expected <= watched, watched
    assert all(line.endswith("-p wa -k mathesar-deploy-watched") for line in lines)
    if _in_container(host):
        for unit in ("auditd", "audit-rules"):
            assert host.run(f"systemctl is-failed {unit}").stdout.strip() != "failed", unit
        assert not host.service("auditd").is_enabled
    else:
        assert host.service("auditd").is_running
