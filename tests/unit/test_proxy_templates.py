"""The proxy role's Caddyfile and nginx site with several app servers, some drained (reverse_proxy_drained_hosts),
rendered by Ansible on the controller with the role's defaults and vars: the exact lines, which the balancer
scenario's rolling upgrade (Caddy and nginx balancers) only sees at work. Also the Content-Security-Policy line of
both (the scenarios check the header Caddy and nginx send with the default)."""

import json
import os
import pathlib
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "reverse_proxy"
UPSTREAMS = ["10.0.0.21:8000", "10.0.0.22:8000", "[fd00::23]:8000"]


def render(template, drained, backend, **extra):
    playbook = f"""
- hosts: localhost
  gather_facts: false
  vars_files: ["{ROLE}/defaults/main.yml", "{ROLE}/vars/main.yml"]
  tasks:
    - ansible.builtin.debug:
        msg: "{{{{ lookup('ansible.builtin.template', '{ROLE}/templates/{template}') }}}}"
"""
    # Extra vars: above the role's defaults, as an inventory's values are.
    values = {"reverse_proxy_domain": "mathesar.example.org", "reverse_proxy_upstreams": UPSTREAMS,
              "reverse_proxy_drained_hosts": drained, "reverse_proxy_backend": backend, **extra}
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="0")
    run = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "/dev/stdin", "-e", json.dumps(values)],
                         input=playbook, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"].splitlines()


def nginx_servers(drained):
    return [line.split() for line in render("nginx-site.conf.j2", drained, "nginx")
            if line.strip().startswith("server ") and ":8000" in line]


def caddy_upstreams(drained):
    line = next(line for line in render("Caddyfile.j2", drained, "caddy") if line.strip().startswith("reverse_proxy "))
    return line.split()[1:-1]


def test_nginx_marks_a_drained_server_down_and_keeps_it_listed():
    servers = nginx_servers(["10.0.0.22", "fd00::23"])
    assert [server[1] for server in servers] == ["10.0.0.21:8000", "10.0.0.22:8000", "[fd00::23]:8000"]
    assert ["down;" in server for server in servers] == [False, True, True]


def test_nginx_marks_nothing_down_without_drained_hosts():
    assert not any("down;" in server for server in nginx_servers([]))


def test_caddy_leaves_a_drained_server_out():
    assert caddy_upstreams(["10.0.0.21"]) == ["10.0.0.22:8000", "[fd00::23]:8000"]
    assert caddy_upstreams([]) == UPSTREAMS


def csp_lines(template, backend, **extra):
    return [line.strip() for line in render(template, [], backend, **extra) if "Content-Security-Policy" in line]


def test_both_proxies_send_the_policy_as_one_quoted_value_or_none():
    policy = "default-src 'self'; img-src 'self' data:"
    caddy = csp_lines("Caddyfile.j2", "caddy", reverse_proxy_content_security_policy=policy)
    assert caddy == [f'Content-Security-Policy "{policy}"']
    # Without TLS: in acme mode the HTTPS server is rendered once certbot has a certificate.
    nginx = csp_lines("nginx-site.conf.j2", "nginx", reverse_proxy_content_security_policy=policy,
                      reverse_proxy_tls_mode="off")
    # nginx repeats its headers in each location that adds its own.
    assert nginx and set(nginx) == {f'add_header Content-Security-Policy "{policy}" always;'}
    assert csp_lines("Caddyfile.j2", "caddy", reverse_proxy_content_security_policy="") == []
    assert csp_lines("nginx-site.conf.j2", "nginx", reverse_proxy_content_security_policy="",
                     reverse_proxy_tls_mode="off") == []
