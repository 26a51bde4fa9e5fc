"""docs/hardening.md as a companion: a step's by-hand commands, run as written on the outsider (a plain container of
the same Debian release; the role runs only its mail concern there), leave the files that the role leaves on the
hardened host: the same lines (comments aside: the role's files open with one that names it), owner, group and
mode. apt-get's question is answered yes; nothing else is added to the commands (what a step takes for granted on a
server, such as sshd, is installed on the outsider before them)."""

import re
import shlex

import pytest
from conftest import HARDENING_DEFAULTS, REPO

testinfra_hosts = ["mathesar_app"]

DOC = (REPO / "docs" / "hardening.md").read_text()

# What step 8c takes the set-id bit from (the role's default list): programs, compared by owner and mode only.
SET_ID_PROGRAMS = HARDENING_DEFAULTS["hardening_suid_sgid_removed"]
# The files each step's by-hand commands write, as the role names them.
STEPS = {
    "1a": ["/etc/ssh/sshd_config.d/01-mathesar-deploy-hostkeys.conf", "/etc/ssh/moduli"],
    "5": ["/etc/sysctl.d/99-zz-mathesar-deploy.conf", "/etc/modprobe.d/mathesar-deploy-hardening.conf"],
    "6": ["/etc/security/limits.d/90-mathesar-deploy.conf", "/etc/systemd/coredump.conf.d/90-mathesar-deploy.conf",
          "/etc/profile.d/mathesar-deploy-core.sh", "/etc/profile.d/mathesar-deploy-tmout.sh"],
    "6a": ["/etc/sudoers.d/zz-mathesar-deploy", "/etc/logrotate.d/mathesar-deploy-sudo", "/etc/sudoers.d"],
    "6b": ["/etc/systemd/journald.conf.d/90-mathesar-deploy.conf"],
    "6c": ["/etc/cron.allow", "/etc/at.allow", "/etc/crontab", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily",
           "/etc/cron.weekly", "/etc/cron.monthly"],
    "6d": ["/etc/security/faillock.conf", "/usr/share/pam-configs/mathesar-deploy-faillock",
           "/usr/share/pam-configs/mathesar-deploy-faillock-authfail"],
    "6e": ["/etc/pam.d/su"],
    "6f": [],
    "6g": ["/etc/chrony/conf.d/mathesar-deploy.conf"],
    "6h": ["/etc/audit/rules.d/50-mathesar-deploy.rules"],
    "7": ["/etc/issue", "/etc/issue.net"],
    "8c": SET_ID_PROGRAMS,
}
# A step's last command that needs a kernel of the host's own, left out on the outsider container (the role does
# not run it in a container either; tests/benchmarks/vm-hardening.sh runs it on a VM).
KERNEL_ONLY = {"5": "sysctl --system", "6h": "augenrules --load"}
# What the role removes in a step: gone on both hosts.
REMOVED = {"1a": ["/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ecdsa_key.pub", "/etc/ssh/ssh_host_dsa_key"],
           "6c": ["/etc/cron.deny", "/etc/at.deny"]}
# What a step takes for granted on a server, which the outsider (a plain client container) lacks: set up first, as a
# VPS has it, not part of the step's commands.
# (The base image has openssh-server without host keys, as prepare's ssh-server.yml starts it on the other hosts.)
SERVER_HAS = {"1a": "ssh-keygen -A\nsystemctl start ssh"}
# The packages a step's commands install, as hardening_packages does.
PACKAGES = {"6": ["libpam-pwquality", "cracklib-runtime", "libpam-tmpdir"], "6a": ["sudo", "logrotate"],
            "6c": ["cron"], "6g": ["chrony"], "6h": ["auditd"]}


def by_hand(step):
    """The commands of a step's first indented block after its "**By hand**" (or "**By hand:**") line."""
    section = re.search(rf"^## {re.escape(step)}\. .*?(?=^## )", DOC, re.S | re.M)
    assert section, f"no step {step} in docs/hardening.md"
    lines = re.split(r"\*\*By hand:?\*\*", section.group(0), maxsplit=1)[1].splitlines()[1:]
    start = next(i for i, line in enumerate(lines) if line.startswith("    "))
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip()


def pam_stack(host, name, modules=("pam_faillock", "pam_unix")):
    """The lines of a PAM file that name these modules, in order (other packages' profiles may add lines around
    them on the hardened host, which has more installed)."""
    return [" ".join(line.split()) for line in host.file(f"/etc/pam.d/{name}").content_string.splitlines()
            if not line.startswith("#") and any(module in line for module in modules)]


def system_shells(host):
    """Each account below UID 1000 with its shell."""
    accounts = (line.split(":") for line in host.file("/etc/passwd").content_string.splitlines())
    return {fields[0]: fields[6] for fields in accounts if int(fields[2]) < 1000}


def lines_without_comments(host, path):
    return [line for line in host.file(path).content_string.splitlines() if not line.startswith("#")]


def login_defs(host):
    """Each key's value as shadow's tools read it: the last uncommented line of the key."""
    values = {}
    for line in host.file("/etc/login.defs").content_string.splitlines():
        fields = line.split(None, 1)
        if len(fields) == 2 and not fields[0].startswith("#"):
            values[fields[0]] = fields[1].strip()
    return values


@pytest.mark.parametrize("step", list(STEPS))
def test_the_by_hand_commands_leave_the_roles_files(host, outsider, step):
    commands = by_hand(step)
    for path in STEPS[step]:
        assert path in commands or path.rsplit("/", 1)[0] in commands, f"step {step} does not write {path}"
    if step in KERNEL_ONLY:
        commands, last = commands.rsplit("\n", 1)
        assert last == KERNEL_ONLY[step], f"step {step} ends with {last!r}"
    script = "export DEBIAN_FRONTEND=noninteractive\napt-get() { command apt-get -y -q \"$@\"; }\n"
    if step in SERVER_HAS:
        script += SERVER_HAS[step] + "\n"
    script += commands
    run = outsider.run(f"bash -eu -c {shlex.quote(script)}")
    assert run.rc == 0, f"step {step}'s commands failed:\n{commands}\n{run.stdout[-1500:]}{run.stderr[-1500:]}"
    for path in STEPS[step]:
        role, hand = host.file(path), outsider.file(path)
        assert hand.exists, f"{path}: not written by step {step}'s commands"
        assert (hand.user, hand.group, oct(hand.mode)) == (role.user, role.group, oct(role.mode)), path
        if role.is_file and path not in SET_ID_PROGRAMS:
            assert lines_without_comments(outsider, path) == lines_without_comments(host, path), path
    for path in REMOVED.get(step, []):
        assert not host.file(path).exists and not outsider.file(path).exists, path
    for name in PACKAGES.get(step, []):
        assert host.package(name).is_installed and outsider.package(name).is_installed, name
    if step == "8c":
        overrides = {each: set(each.run("dpkg-statoverride --list").stdout.splitlines()) for each in (host, outsider)}
        for path in SET_ID_PROGRAMS:
            assert not host.file(path).mode & 0o6000, path
            assert {line for line in overrides[host] if line.endswith(" " + path)} == \
                {line for line in overrides[outsider] if line.endswith(" " + path)} != set(), path
    if step == "6":
        wanted = {key: str(value) for key, value in HARDENING_DEFAULTS["hardening_login_defs"].items()}
        for found in (login_defs(host), login_defs(outsider)):
            assert {key: found.get(key) for key in wanted} == wanted
    if step == "6d":
        for name in ("common-auth", "common-account"):
            assert pam_stack(outsider, name) == pam_stack(host, name), name
        assert any("pam_faillock.so preauth" in line for line in pam_stack(host, "common-auth"))
    if step == "6e":
        group = HARDENING_DEFAULTS["hardening_su_group"]
        for each in (host, outsider):
            assert each.group(group).exists and int(each.group(group).gid) < 1000 and not each.group(group).members
    if step == "6f":
        role, hand = system_shells(host), system_shells(outsider)
        shared = sorted(set(role) & set(hand))
        assert len(shared) > 10, shared
        assert {name: hand[name] for name in shared} == {name: role[name] for name in shared}
        assert {name for name, shell in hand.items() if not shell.endswith(("nologin", "false"))} <= {"root", "sync"}
