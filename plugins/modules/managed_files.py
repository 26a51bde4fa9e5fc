#!/usr/bin/python
# Copyright: mathesar.deploy contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write several small files and folders in one module call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: managed_files
short_description: Write several small files and folders on the target in one module call
version_added: 0.1.0
description:
  - Makes each entry of O(entries) what it says, in the order given (a file with exactly the given content, a
    folder, or nothing). Owner, group and mode are set as for M(ansible.builtin.copy) and M(ansible.builtin.file).
  - A new or changed file is written to a temporary file, checked with the entry's O(entries[].validate) command
    when there is one, and moved into place atomically; a file that fails its check is left as it was.
  - The point is speed on re-runs. M(ansible.builtin.copy) and M(ansible.builtin.template) make two remote module
    calls per file even when nothing changes (a stat, then the attributes); this module makes one call for all
    its entries. Use it for small files without secrets (its arguments are the files' contents); keep secrets
    in their own tasks with C(no_log).
  - Supports check mode and diff mode (one diff per changed entry).
author: mathesar.deploy contributors
options:
  entries:
    description: The files and folders, handled in this order (put a folder before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path on the target.
        type: path
        required: true
      state:
        description:
          - V(file) writes O(entries[].content); its folder must exist (or come earlier in O(entries)).
          - V(directory) creates the folder (and its parents) when missing.
          - V(absent) removes a file or an empty folder.
        type: str
        choices: [file, directory, absent]
        default: file
      content:
        description: The file's whole content, written as given (UTF-8). Required for V(file).
        type: str
      owner:
        description: Owner name or uid; unchanged when not given.
        type: str
      group:
        description: Group name or gid; unchanged when not given.
        type: str
      mode:
        description: Permissions as a quoted octal string such as V("0644"), or symbolic as for M(ansible.builtin.file).
        type: raw
      validate:
        description:
          - A command that checks a new file before it goes live, with V(%s) where the temporary file's path goes,
            as for M(ansible.builtin.copy). Only for V(file); runs only when the content changes.
        type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Write the legal banner and the core-dump limits
  mathesar.deploy.managed_files:
    entries:
      - {path: /etc/issue, content: "Authorized access only.\n", owner: root, group: root, mode: "0644"}
      - {path: /etc/systemd/coredump.conf.d, state: directory, owner: root, group: root, mode: "0755"}
      - path: /etc/systemd/coredump.conf.d/50-off.conf
        content: "[Coredump]\nStorage=none\n"
        owner: root
        group: root
        mode: "0644"
      - {path: /etc/profile.d/old.sh, state: absent}
"""

RETURN = r"""
changed_paths:
  description: The paths that were changed (or would be, in check mode), in the order of O(entries).
  returned: always
  type: list
  elements: str
  sample: [/etc/issue]
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

ENTRY_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["file", "directory", "absent"], "default": "file"},
    "content": {"type": "str"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "mode": {"type": "raw"},
    "validate": {"type": "str"},
}


def _file_args(module, entry, path):
    wanted = {"owner": entry.get("owner"), "group": entry.get("group"), "mode": entry.get("mode")}
    return module.load_file_common_arguments(wanted, path=path)


def _absent(module, path):
    if not os.path.lexists(path):
        return False, []
    kind = "directory" if os.path.isdir(path) and not os.path.islink(path) else "file"
    if not module.check_mode:
        try:
            os.rmdir(path) if kind == "directory" else os.unlink(path)
        except OSError as err:
            module.fail_json(msg=f"managed_files: cannot remove {path}: {to_native(err)}")
    return True, [{"before": {"path": path, "state": kind}, "after": {"path": path, "state": "absent"}}]


def _directory(module, entry, path):
    changed, diff = False, {}
    if not os.path.isdir(path):
        if os.path.lexists(path):
            module.fail_json(msg=f"managed_files: {path} exists and is not a folder")
        diff = {"before": {"path": path, "state": "absent"}, "after": {"path": path, "state": "directory"}}
        changed = True
        if module.check_mode:
            return True, [diff]
        os.makedirs(path)
    # Owner, group and mode changes go into the same before/after fields.
    changed = module.set_fs_attributes_if_different(_file_args(module, entry, path), changed, diff)
    return changed, [diff] if diff else []


def _write(module, entry, path, new):
    # As ansible.builtin.copy does: the new file is checked outside its folder (a tool reading a conf.d folder
    # never sees an unchecked file), then moved into place atomically.
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir, prefix=f"{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(new)
        if entry.get("validate"):
            if "%s" not in entry["validate"]:
                module.fail_json(msg=f"managed_files: validate for {path} must contain %s")
            rc, out, err = module.run_command(entry["validate"] % tmp)
            if rc != 0:
                module.fail_json(msg=f"managed_files: {path} failed its check ({entry['validate']}), left as it was",
                                 rc=rc, stdout=out, stderr=err)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _file(module, entry, path):
    if entry.get("content") is None:
        module.fail_json(msg=f"managed_files: {path} needs content (state file)")
    if not os.path.isdir(os.path.dirname(path)) and not module.check_mode:
        module.fail_json(msg=f"managed_files: the folder of {path} does not exist; list it before the file")
    if os.path.isdir(path):
        module.fail_json(msg=f"managed_files: {path} is a folder, not a file")
    new = to_bytes(entry["content"], errors="surrogate_or_strict")
    old = None
    if os.path.lexists(path):
        with open(path, "rb") as handle:
            old = handle.read()
    changed, diffs = False, []
    if old != new:
        changed = True
        diffs.append({"before_header": path, "after_header": path,
                      "before": to_text(old or b"", errors="surrogate_or_replace"),
                      "after": to_text(new, errors="surrogate_or_replace")})
        if module.check_mode:
            if old is None:
                return True, diffs
        else:
            _write(module, entry, path, new)
    # Owner, group and mode get a diff of their own: the content's before/after are texts, these are fields.
    attributes = {}
    changed = module.set_fs_attributes_if_different(_file_args(module, entry, path), changed, attributes)
    if attributes:
        diffs.append({"before_header": path, "after_header": path, **attributes})
    return changed, diffs


def main():
    module = AnsibleModule(
        argument_spec={"entries": {"type": "list", "elements": "dict", "required": True, "options": ENTRY_SPEC}},
        supports_check_mode=True,
    )
    changed_paths, diffs = [], []
    for entry in module.params["entries"]:
        path = entry["path"]
        if not os.path.isabs(path):
            module.fail_json(msg=f"managed_files: path must be absolute, not '{path}'")
        if entry["state"] == "absent":
            changed, entry_diffs = _absent(module, path)
        elif entry["state"] == "directory":
            changed, entry_diffs = _directory(module, entry, path)
        else:
            changed, entry_diffs = _file(module, entry, path)
        if changed:
            changed_paths.append(path)
            diffs.extend(entry_diffs)
    result = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
