#!/usr/bin/env bash
# Create an inventory's vault.yml with strong random secrets, encrypted with your vault password.
# Never overwrites an existing file.
#   scripts/create-vault.sh INVENTORY_DIR [GROUP]      (GROUP: the group_vars folder, default all)
# The vault password is asked for by ansible-vault, or taken from ANSIBLE_VAULT_PASSWORD_FILE when set. Keep it safe:
# the vault holds the SECRET_KEY, which encrypts the database passwords Mathesar stores.
set -euo pipefail
inventory=${1:?usage: create-vault.sh INVENTORY_DIR [GROUP]}
group=${2:-all}
target="$inventory/group_vars/$group/vault.yml"
[ -d "$inventory/group_vars/$group" ] || { echo "create-vault: no folder $inventory/group_vars/$group" >&2; exit 2; }
if [ -e "$target" ]; then
  echo "create-vault: $target exists; not touching it (ansible-vault edit $target to change it)." >&2
  exit 1
fi
here=$(cd "$(dirname "$0")/.." && pwd)
vault_cmd=ansible-vault
[ -x "$here/.venv/bin/ansible-vault" ] && vault_cmd="$here/.venv/bin/ansible-vault"
python3 - <<'PY' | "$vault_cmd" encrypt --output "$target" -
import secrets, string
alnum = string.ascii_letters + string.digits
def rnd(n, alphabet=alnum):
    return "".join(secrets.choice(alphabet) for _ in range(n))
print("---")
print("# Created by scripts/create-vault.sh. Never change vault_mathesar_secret_key once Mathesar runs.")
print(f"vault_mathesar_db_password: {rnd(32)}")
print(f"vault_mathesar_secret_key: {rnd(64)}")
print(f"vault_mathesar_admin_password: {rnd(24)}")
print("# Encrypts the database host's backups (pgBackRest). Never change it once backups exist.")
print(f"vault_pgbackrest_cipher_pass: {rnd(48)}")
PY
chmod 600 "$target"
echo "create-vault: wrote $target (encrypted). Show it with: ansible-vault view $target"
echo "create-vault: keep the vault password safe and backed up: losing it loses the SECRET_KEY in the vault."
