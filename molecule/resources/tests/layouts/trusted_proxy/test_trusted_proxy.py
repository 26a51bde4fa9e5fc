"""The proxy behind another proxy: X-Forwarded-Proto and X-Forwarded-For from the hosts in
reverse_proxy_trusted_proxies are kept (the chain extended), from anyone else replaced. Run by the scenarios that
name a host of theirs as the trusted proxy (MATHESAR_TEST_TRUSTED_PROXY, an inventory group): external_db on Caddy,
day_two on nginx."""

import json
import os
import shlex

from conftest import host_in_group


def _address(host):
    """The host's address on the scenario's test network (eth0 in every test container)."""
    return host.interface("eth0").addresses[0]


def _request_as_django_saw_it(client_host, settings, app_address):
    """standin.request through the proxy from client_host, which claims an outer hop over plain HTTP from
    203.0.113.9. -k: what is checked here is the headers, not the chain (other checks verify it)."""
    body = '{"jsonrpc": "2.0", "id": 1, "method": "standin.request"}'
    answer = client_host.check_output(
        f"curl -sS -k --max-time 20 --resolve {settings['domain']}:443:{app_address} "
        f"-u {shlex.quote(settings['admin_user'] + ':' + settings['admin_password'])} "
        "-H 'Content-Type: application/json' -H 'X-Forwarded-Proto: http' -H 'X-Forwarded-For: 203.0.113.9' "
        f"--data {shlex.quote(body)} https://{settings['domain']}/api/rpc/v0/")
    return json.loads(answer)["result"]


def test_forwarded_headers_are_kept_from_trusted_proxies_only(settings, standin_only):
    app = host_in_group("mathesar_app")
    proxy = host_in_group(os.environ["MATHESAR_TEST_TRUSTED_PROXY"])
    app_address, proxy_address = _address(app), _address(proxy)
    trusted = _request_as_django_saw_it(proxy, settings, app_address)
    assert trusted["scheme"] == "http", (settings["proxy"], trusted)
    assert trusted["x_forwarded_for"] == f"203.0.113.9, {proxy_address}", (settings["proxy"], trusted)
    # The app host itself, over its network address, is no trusted proxy: both headers are the proxy's own.
    other = _request_as_django_saw_it(app, settings, app_address)
    assert other["scheme"] == "https", (settings["proxy"], other)
    assert other["x_forwarded_for"] == app_address, (settings["proxy"], other)
