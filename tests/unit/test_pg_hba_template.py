"""The postgres role's pg_hba.conf template, rendered by Ansible on the controller."""

import json
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "roles" / "postgres" / "templates" / "pg_hba.conf.j2"


def render(entries):
    playbook = f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "{{{{ lookup('ansible.builtin.template', '{TEMPLATE}') }}}}"
      vars:
        postgres_hba_entries: {json.dumps(entries)}
        postgres_hba_extra_entries: []
"""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="0")
    run = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "/dev/stdin"], input=playbook, env=env,
                         capture_output=True, text=True, check=False, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    return [line.split() for line in result.splitlines() if line and not line.startswith("#")]


def test_bare_addresses_get_a_host_prefix_and_names_do_not():
    rows = render([
        {"type": "hostssl", "database": "d", "user": "u", "address": "10.0.0.11", "method": "scram-sha-256"},
        {"type": "hostssl", "database": "d", "user": "u", "address": "fd00::11", "method": "scram-sha-256"},
        {"type": "hostssl", "database": "d", "user": "u", "address": "10.0.0.0/24", "method": "scram-sha-256"},
        # Host names made of hex digits only must stay names (no /32 appended).
        {"type": "hostssl", "database": "d", "user": "u", "address": "cafe", "method": "scram-sha-256"},
        {"type": "hostssl", "database": "d", "user": "u", "address": "app.example", "method": "scram-sha-256"},
        {"type": "local", "database": "all", "user": "postgres", "method": "peer"},
    ])
    assert [row[3] for row in rows[:5]] == ["10.0.0.11/32", "fd00::11/128", "10.0.0.0/24", "cafe", "app.example"]
    assert rows[5] == ["local", "all", "postgres", "peer"]
