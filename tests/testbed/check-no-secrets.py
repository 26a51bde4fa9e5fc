"""Fail when any value of the test vault appears in a log (converge, idempotence and verify output)."""

import pathlib
import sys

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

resources = pathlib.Path(__file__).resolve().parents[2] / "molecule" / "resources"
secret = VaultSecret((resources / "test-vault-password").read_bytes().strip())
values = {}
# test-vault.yml, and the vaults beside it (test-vault-mail.yml: the hardening scenario's smarthost login).
for vault in sorted((resources / "vars").glob("test-vault*.yml")):
    values.update(yaml.safe_load(VaultLib([("default", secret)]).decrypt(vault.read_bytes())))
log = pathlib.Path(sys.argv[1]).read_text(errors="replace")
leaks = [name for name, value in values.items() if str(value) in log]
# Parts of a secret count too: a mangled print of the value is still a leak.
leaks += [f"{name} (first 12 characters)" for name, value in values.items()
          if name not in leaks and str(value)[:12] in log]
if leaks:
    print(f"check-no-secrets: vault values found in {sys.argv[1]}: {', '.join(leaks)}")
    sys.exit(1)
print(f"check-no-secrets: none of the {len(values)} vault values appears in the output")
