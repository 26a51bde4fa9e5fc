"""The collection as a user installs it: built, installed into an empty collections path, and driven by a playbook in
a folder outside this checkout that only imports `mathesar.deploy.site`, with an inventory of its own made from the
installed collection's example. Run against the scenario's already converged host, it must change nothing: the
installed artifact deploys exactly what the checkout deployed."""

import os
import pathlib
import shutil
import subprocess

import yaml
from conftest import REPO, RESOURCES, name_in_group, recap


def _run(argv, cwd, env, timeout=900):
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return done.returncode, done.stdout + done.stderr


def _user_env(tmp_path):
    """The environment of a user's shell: none of Molecule's or this checkout's Ansible settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "collections")
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(RESOURCES / "test-vault-password")
    # The controller's known_hosts and retry files stay out of the user's home.
    env["HOME"] = str(tmp_path / "home")
    # The test overrides read the stand-in release from these (set for the verify step by the runner).
    for name in ("MATHESAR_TEST_VERSION", "MATHESAR_TEST_ARCHIVE", "MATHESAR_TEST_HARDENING"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def test_installed_collection_deploys_from_a_folder_of_its_own(tmp_path, settings):
    bin_dir = pathlib.Path(os.environ["VIRTUAL_ENV"]) / "bin"
    env = _user_env(tmp_path)
    (tmp_path / "home").mkdir()

    rc, out = _run([str(bin_dir / "ansible-galaxy"), "collection", "build", str(REPO), "--output-path",
                    str(tmp_path / "build")], cwd=tmp_path, env=env, timeout=300)
    assert rc == 0, out[-3000:]
    artifact = next((tmp_path / "build").glob("mathesar-deploy-*.tar.gz"))
    # Offline: the dependencies (community.postgresql, community.crypto, community.general) are the ones the ansible
    # package bundles, as after `ansible-galaxy collection install -r requirements.yml` on a connected machine.
    rc, out = _run([str(bin_dir / "ansible-galaxy"), "collection", "install", "--offline", str(artifact)],
                   cwd=tmp_path, env=env, timeout=300)
    assert rc == 0, out[-3000:]
    installed = tmp_path / "collections" / "ansible_collections" / "mathesar" / "deploy"
    assert (installed / "playbooks" / "site.yml").is_file(), out[-3000:]

    # The user's folder: a playbook that imports the collection's, and the installed example inventory's variables
    # with this test bed's overrides and vault beside them.
    project = tmp_path / "project"
    group_vars = project / "inventory" / "group_vars" / "all"
    shutil.copytree(installed / "inventories" / "example" / "group_vars" / "all", group_vars)
    shutil.copy(RESOURCES / "vars" / "test-overrides.yml", group_vars / "test-overrides.yml")
    shutil.copy(RESOURCES / "vars" / "test-vault.yml", group_vars / "vault.yml")
    if settings["proxy"] == "nginx":
        # The scenario's nginx in acme mode against its Pebble (loaded after test-overrides.yml: group_vars files go
        # in name order), with the root of Pebble's HTTPS copied into the project (test-acme.yml finds it through
        # Molecule's environment, which a user's shell does not have).
        shutil.copy(RESOURCES / "vars" / "test-nginx.yml", group_vars / "test-proxy.yml")
        acme = yaml.safe_load((RESOURCES / "vars" / "test-acme.yml").read_text())
        shutil.copy(pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "acme-pki" / "root.crt",
                    project / "acme-root.crt")
        (group_vars / "test-proxy-acme.yml").write_text(yaml.safe_dump({
            "reverse_proxy_tls_mode": acme["reverse_proxy_tls_mode"],
            "reverse_proxy_acme_ca": acme["reverse_proxy_acme_ca"],
            "reverse_proxy_acme_ca_root_file": str(project / "acme-root.crt")}))
    host = name_in_group("mathesar_app")
    connection = {"ansible_connection": "community.docker.docker"}
    inventory = {"mathesar_app": {"hosts": {host: connection}}, "mathesar_db": {"hosts": {host: connection}}}
    (project / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (project / "site.yml").write_text("---\n- name: Mathesar\n  ansible.builtin.import_playbook: mathesar.deploy.site\n")

    rc, out = _run([str(bin_dir / "ansible-playbook"), "-i", "inventory/hosts.yml", "site.yml"], cwd=project, env=env)
    assert rc == 0, out[-4000:]
    # One host in the recap, the Mathesar host: nothing changed, nothing failed.
    hosts = [line.split()[0] for line in out.split("PLAY RECAP")[-1].splitlines() if ": ok=" in line]
    assert hosts == [host], out[-2000:]
    assert recap(out) == [("0", "0")], out[-4000:]
