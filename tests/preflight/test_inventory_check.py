"""The inventory's shape is checked before any host is contacted (playbooks/inventory_check.yml, imported first by
site.yml and the day-two playbooks): an inventory of the old group `mathesar`, one written for an older version, or
one whose groups cannot make a deployment, is refused with a message that says what to change. No host is reachable
here: the hosts below have addresses from the documentation range, so a check that let something through would fail
to connect rather than change anything. Each inventory uses the example inventory's group_vars, as a user's would."""

import pathlib
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECK = REPO / "playbooks" / "inventory_check.yml"
SITE = REPO / "playbooks" / "site.yml"


def host(address, private=None):
    values = {"ansible_host": address}
    if private is not None:
        values["mathesar_private_address"] = private
    return values


def run(tmp_path, inventory, playbook=CHECK, group_vars=REPO / "inventories" / "example" / "group_vars", extra=()):
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    if group_vars:
        (tmp_path / "group_vars").symlink_to(group_vars)
    argv = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(path), str(playbook), "--check", *extra]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


SAME_HOST = {"mathesar_app": {"hosts": {"vps": host("203.0.113.10")}}, "mathesar_db": {"hosts": {"vps": None}}}
SEPARATE = {"mathesar_app": {"hosts": {"app": host("203.0.113.21", "10.0.0.11")}},
            "mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5")}}}
EXTERNAL = {"mathesar_app": {"hosts": {"app": host("203.0.113.21")}}}
# A backup host (the off-host copy of the DB host's backups) talks to the DB host over the private network.
BACKUP = {"mathesar_backup": {"hosts": {"backup": host("203.0.113.30", "10.0.0.7")}}}
SEPARATE_BACKUP = {**SEPARATE, **BACKUP}
SAME_HOST_BACKUP = {"mathesar_app": {"hosts": {"vps": host("203.0.113.10", "10.0.0.10")}},
                    "mathesar_db": {"hosts": {"vps": None}}, **BACKUP}
# A load balancer in front of two app hosts: it and they talk over the private network.
BALANCED = {"mathesar_lb": {"hosts": {"lb": host("203.0.113.40", "10.0.0.40")}},
            "mathesar_app": {"hosts": {"app1": host("203.0.113.21", "10.0.0.21"),
                                       "app2": host("203.0.113.22", "10.0.0.22")}},
            "mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5")}}}


@pytest.mark.parametrize("inventory", [SAME_HOST, SEPARATE, EXTERNAL, SEPARATE_BACKUP, SAME_HOST_BACKUP, BALANCED],
                         ids=["same host", "separate", "external db", "separate with backup", "same host with backup",
                              "load balancer"])
def test_every_layout_passes(tmp_path, inventory):
    rc, out = run(tmp_path, inventory)
    assert rc == 0, out[-3000:]


def test_the_load_balancer_inventory_passes(tmp_path):
    """inventories/load-balancer/hosts.yml, with the example's group_vars as its header says to use it."""
    inventory = yaml.safe_load((REPO / "inventories" / "load-balancer" / "hosts.yml").read_text())
    assert set(inventory) == {"mathesar_lb", "mathesar_app", "mathesar_db"}
    assert len(inventory["mathesar_app"]["hosts"]) == 2
    rc, out = run(tmp_path, inventory)
    assert rc == 0, out[-3000:]


BAD = {
    "old group mathesar": ({"mathesar": {"hosts": {"vps": host("203.0.113.10")}}},
                           ["'mathesar'", "both mathesar_app and mathesar_db", "group_vars/all/main.yml"]),
    "removed hardening variable": ({**SAME_HOST, "all": {"vars": {"hardening_firewall_web_open": True}}},
                                   ["vps: the inventory sets hardening_firewall_web_open", "hardening_firewall_extra_rules"]),
    "no app host": ({"mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5")}}}, ["mathesar_app"]),
    "two database hosts": ({**SEPARATE, "mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5"),
                                                                  "db2": host("203.0.113.22", "10.0.0.6")}}},
                           ["mathesar_db has 2 hosts"]),
    "app host without a private address": ({**SEPARATE, "mathesar_app": {"hosts": {"app": host("203.0.113.21")}}},
                                           ["mathesar_private_address", "Missing on: app"]),
    "private address not an IP": ({**SEPARATE, "mathesar_db": {"hosts": {"db": host("203.0.113.20", "db.lan")}}},
                                  ["not an IP address: db.lan"]),
    "two backup hosts": ({**SEPARATE, "mathesar_backup": {"hosts": {"backup": host("203.0.113.30", "10.0.0.7"),
                                                                    "backup2": host("203.0.113.31", "10.0.0.8")}}},
                         ["mathesar_backup (backup, backup2) must be one host"]),
    "backup host is the db host": ({**SEPARATE, "mathesar_backup": {"hosts": {"db": None}}},
                                   ["mathesar_backup (db) must be one host that is not the database host"]),
    "backup host without a db host": ({**EXTERNAL, **BACKUP},
                                      ["mathesar_backup (backup)", "needs a database host (mathesar_db)"]),
    "backup host without a private address": (
        {**SEPARATE, "mathesar_backup": {"hosts": {"backup": host("203.0.113.30")}}},
        ["mathesar_private_address", "Missing on: backup;"]),
    "load balancer without a private address": (
        {**BALANCED, "mathesar_lb": {"hosts": {"lb": host("203.0.113.40")}}},
        ["mathesar_private_address", "with load balancers (mathesar_lb)", "Missing on: lb;"]),
    # Same host: the DB host needs a private address only because of the backup host.
    "same host with a backup host, no private address": ({**SAME_HOST, **BACKUP},
                                                         ["mathesar_private_address", "Missing on: vps;"]),
}


def assert_refused_by_the_check(out, phrases):
    for phrase in phrases:
        assert phrase in out, (phrase, out[-3000:])
    assert "Nothing was changed" in out
    # No play after the check ran: nothing reached a host.
    plays = [line for line in out.splitlines() if line.startswith("PLAY [")]
    assert plays == ["PLAY [Check the inventory's groups (changes nothing)] **************************"], plays


@pytest.mark.parametrize("case", BAD)
def test_bad_inventory_is_refused_before_any_host_is_contacted(tmp_path, case):
    inventory, phrases = BAD[case]
    # site.yml itself, so that the check is proven to run first there.
    rc, out = run(tmp_path, inventory, SITE)
    assert rc != 0, out[-3000:]
    assert_refused_by_the_check(out, phrases)


def test_an_inventory_of_an_older_version_is_refused(tmp_path):
    """Groups of today, but group_vars written for an older version (no derived section): without the check the
    hardening role would open no web port on the app host."""
    old_vars = tmp_path / "old_group_vars" / "all"
    old_vars.mkdir(parents=True)
    (old_vars / "main.yml").write_text("---\nmathesar_app_domain: mathesar.example.org\n")
    inventory_dir = tmp_path / "inventory"
    inventory_dir.mkdir()
    rc, out = run(inventory_dir, SEPARATE, SITE, group_vars=old_vars.parent)
    assert rc != 0, out[-3000:]
    assert_refused_by_the_check(out, ["app, db: the inventory lacks the section \"Derived from the groups\""])


def test_a_limited_run_still_checks_the_inventory(tmp_path):
    inventory = {**SAME_HOST, "mathesar": {"hosts": {"old": host("203.0.113.11")}}}
    rc, out = run(tmp_path, inventory, SITE, extra=("--limit", "vps"))
    assert rc != 0, out[-3000:]
    assert_refused_by_the_check(out, ["'mathesar'"])
