"""The inventory's shape is checked on the controller before any host is contacted (playbooks/inventory_check.yml,
imported first by site.yml and the day-two playbooks): an inventory of the old group `mathesar`, or one whose groups
cannot make a deployment, is refused with a message that says what to change. No host is reachable here: the hosts
below have addresses from the documentation range, so a check that let something through would fail to connect
rather than change anything."""

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


def run(tmp_path, inventory, playbook=CHECK):
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    argv = [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(path), str(playbook), "--check"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


SAME_HOST = {"mathesar_app": {"hosts": {"vps": host("203.0.113.10")}}, "mathesar_db": {"hosts": {"vps": None}}}
SEPARATE = {"mathesar_app": {"hosts": {"app": host("203.0.113.21", "10.0.0.11")}},
            "mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5")}}}
EXTERNAL = {"mathesar_app": {"hosts": {"app": host("203.0.113.21")}}}


@pytest.mark.parametrize("inventory", [SAME_HOST, SEPARATE, EXTERNAL], ids=["same host", "separate", "external db"])
def test_every_layout_passes(tmp_path, inventory):
    rc, out = run(tmp_path, inventory)
    assert rc == 0, out[-3000:]


BAD = {
    "old group mathesar": ({"mathesar": {"hosts": {"vps": host("203.0.113.10")}}},
                           ["'mathesar'", "both mathesar_app and mathesar_db", "group_vars/all"]),
    "no app host": ({"mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5")}}}, ["mathesar_app"]),
    "two database hosts": ({**SEPARATE, "mathesar_db": {"hosts": {"db": host("203.0.113.20", "10.0.0.5"),
                                                                  "db2": host("203.0.113.22", "10.0.0.6")}}},
                           ["mathesar_db has 2 hosts"]),
    "app host without a private address": ({**SEPARATE, "mathesar_app": {"hosts": {"app": host("203.0.113.21")}}},
                                           ["mathesar_private_address", "Missing on: app"]),
    "private address not an IP": ({**SEPARATE, "mathesar_db": {"hosts": {"db": host("203.0.113.20", "db.lan")}}},
                                  ["not an IP address: db.lan"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_inventory_is_refused_before_any_host_is_contacted(tmp_path, case):
    inventory, phrases = BAD[case]
    # site.yml itself, so that the check is proven to run first there.
    rc, out = run(tmp_path, inventory, SITE)
    assert rc != 0, out[-3000:]
    for phrase in phrases:
        assert phrase in out, (phrase, out[-3000:])
    assert "Nothing was changed" in out
    # Only the controller ran anything: no task reached an inventory host.
    hosts = [line.split()[0] for line in out.split("PLAY RECAP")[-1].splitlines()[1:] if ": ok=" in line]
    assert hosts == ["localhost"], out[-2000:]
