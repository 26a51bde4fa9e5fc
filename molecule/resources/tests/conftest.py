"""Fixtures shared by the scenarios' verify tests (testinfra through Molecule's inventory)."""

import os
import pathlib
import sys

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

sys.path.insert(0, os.path.dirname(__file__))
from mathesar_client import Client  # noqa: E402

RESOURCES = pathlib.Path(__file__).resolve().parent.parent
REPO = RESOURCES.parent.parent
CADDY_ROOT_CA = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"


def _load_vault():
    secret = VaultSecret((RESOURCES / "test-vault-password").read_bytes().strip())
    plain = VaultLib([("default", secret)]).decrypt((RESOURCES / "vars" / "test-vault.yml").read_bytes())
    return yaml.safe_load(plain)


def _layout_vars(layout):
    """The example inventory's plain variables, with the test-only overrides on top."""
    merged = {}
    for path in sorted((REPO / "inventories" / layout / "group_vars").glob("*/main.yml")):
        merged.update(yaml.safe_load(path.read_text()) or {})
    merged.update(yaml.safe_load((RESOURCES / "vars" / "test-overrides.yml").read_text()))
    return merged


@pytest.fixture(scope="session")
def settings():
    layout = os.environ.get("MATHESAR_TEST_LAYOUT", "same_host")
    values = _layout_vars(layout)
    vault = _load_vault()
    return {
        "layout": layout,
        "domain": values["mathesar_app_domain"],
        "admin_user": values["mathesar_app_admin_username"],
        "admin_password": vault["vault_mathesar_admin_password"],
        "secret_key": vault["vault_mathesar_secret_key"],
        "db_password": vault["vault_mathesar_db_password"],
        "version": os.environ["MATHESAR_TEST_VERSION"],
        "standin": os.environ.get("MATHESAR_TEST_STANDIN") == "1",
        "root": "/opt/mathesar",
    }


@pytest.fixture()
def client(host, settings):
    c = Client(host, settings["domain"], CADDY_ROOT_CA)
    yield c
    c.close()


@pytest.fixture()
def admin(client, settings):
    response = client.login(settings["admin_user"], settings["admin_password"])
    assert response.status == 302 and "sessionid" in response.cookies, "admin login failed"
    return client


@pytest.fixture()
def standin_only(settings):
    if not settings["standin"]:
        pytest.skip("SKIPPED LOUDLY: this check uses stand-in-only RPC methods (standin.*); "
                    "MATHESAR_RELEASE_ARCHIVE points at a real release")
