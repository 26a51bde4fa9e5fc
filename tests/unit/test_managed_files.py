"""Unit tests of the managed_files module, run as Ansible runs a module: a process reading its arguments."""

import json
import os
import pathlib
import pwd
import stat
import subprocess
import sys

import pytest

MODULE = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "modules" / "managed_files.py"


def remote_tmp(tmp_path):
    """The module's temporary folder (Ansible's remote tmp on a target)."""
    folder = tmp_path.parent / f"{tmp_path.name}-remote-tmp"
    folder.mkdir(exist_ok=True)
    return folder


def run(tmp_path, entries, check=False, diff=False):
    args = tmp_path.parent / f"{tmp_path.name}-args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "entries": entries, "_ansible_check_mode": check, "_ansible_diff": diff,
        "_ansible_tmpdir": str(remote_tmp(tmp_path)), "_ansible_remote_tmp": str(remote_tmp(tmp_path))}}))
    out = subprocess.run([sys.executable, str(MODULE), str(args)], capture_output=True, text=True)
    return json.loads(out.stdout)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def entries_in(root):
    return [
        {"path": str(root / "conf.d"), "state": "directory", "mode": "0750"},
        {"path": str(root / "conf.d" / "a.conf"), "content": "a = 1\n", "mode": "0640"},
        {"path": str(root / "b.conf"), "content": "b = 2\n", "mode": "0644"},
    ]


def test_writes_files_and_folders_then_changes_nothing(tmp_path):
    first = run(tmp_path, entries_in(tmp_path))
    assert first["changed"] is True, first
    assert first["changed_paths"] == [str(tmp_path / "conf.d"), str(tmp_path / "conf.d" / "a.conf"),
                                      str(tmp_path / "b.conf")]
    assert (tmp_path / "conf.d" / "a.conf").read_text() == "a = 1\n"
    assert (tmp_path / "b.conf").read_text() == "b = 2\n"
    assert mode_of(tmp_path / "conf.d") == 0o750
    assert mode_of(tmp_path / "conf.d" / "a.conf") == 0o640
    assert mode_of(tmp_path / "b.conf") == 0o644
    second = run(tmp_path, entries_in(tmp_path))
    assert second["changed"] is False and second["changed_paths"] == [], second


def test_check_mode_reports_and_touches_nothing(tmp_path):
    (tmp_path / "b.conf").write_text("b = old\n")
    os.chmod(tmp_path / "b.conf", 0o600)
    result = run(tmp_path, entries_in(tmp_path), check=True, diff=True)
    assert result["changed"] is True, result
    assert len(result["changed_paths"]) == 3
    assert not (tmp_path / "conf.d").exists()
    assert (tmp_path / "b.conf").read_text() == "b = old\n"
    assert mode_of(tmp_path / "b.conf") == 0o600
    content = [d for d in result["diff"] if d.get("before") == "b = old\n"]
    assert content and content[0]["after"] == "b = 2\n", result["diff"]
    modes = [d for d in result["diff"] if isinstance(d.get("before"), dict) and "mode" in d["before"]]
    assert modes and modes[0]["before"]["mode"] == "0600" and modes[0]["after"]["mode"] == "0644", result["diff"]


def test_a_mode_change_alone_is_a_change_with_its_diff(tmp_path):
    run(tmp_path, entries_in(tmp_path))
    os.chmod(tmp_path / "b.conf", 0o666)
    result = run(tmp_path, entries_in(tmp_path), diff=True)
    assert result["changed_paths"] == [str(tmp_path / "b.conf")], result
    assert mode_of(tmp_path / "b.conf") == 0o644
    assert result["diff"] == [{"before_header": str(tmp_path / "b.conf"), "after_header": str(tmp_path / "b.conf"),
                               "before": {"mode": "0666"}, "after": {"mode": "0644"}}]


def test_a_file_that_fails_its_check_is_left_as_it_was(tmp_path):
    target = tmp_path / "sshd.conf"
    target.write_text("good\n")
    result = run(tmp_path, [{"path": str(target), "content": "bad\n", "validate": "grep -q good %s"}])
    assert result.get("failed") is True, result
    assert str(target) in result["msg"] and "failed its check" in result["msg"]
    assert target.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sshd.conf"]
    assert list(remote_tmp(tmp_path).iterdir()) == [], "a temporary file was left behind"


def test_a_file_that_passes_its_check_goes_live(tmp_path):
    target = tmp_path / "sshd.conf"
    result = run(tmp_path, [{"path": str(target), "content": "good\n", "validate": "grep -q good %s"}])
    assert result["changed"] is True, result
    assert target.read_text() == "good\n"


def test_absent_removes_and_is_then_a_no_op(tmp_path):
    (tmp_path / "old.sh").write_text("x\n")
    entry = [{"path": str(tmp_path / "old.sh"), "state": "absent"}]
    assert run(tmp_path, entry)["changed"] is True
    assert not (tmp_path / "old.sh").exists()
    assert run(tmp_path, entry)["changed"] is False


def test_a_file_in_a_missing_folder_fails_and_says_so(tmp_path):
    result = run(tmp_path, [{"path": str(tmp_path / "nope" / "a.conf"), "content": "a\n"}])
    assert result.get("failed") is True and "does not exist" in result["msg"], result


def test_relative_path_and_missing_content_are_refused(tmp_path):
    assert "absolute" in run(tmp_path, [{"path": "etc/issue", "content": "x"}])["msg"]
    assert "needs content" in run(tmp_path, [{"path": str(tmp_path / "a")}])["msg"]


def test_owner_and_group_are_set(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: changing a file's owner needs root; the scenarios check owners on the targets")
    nobody = pwd.getpwnam("nobody")
    entry = [{"path": str(tmp_path / "a.conf"), "content": "a\n", "owner": "nobody", "group": str(nobody.pw_gid)}]
    assert run(tmp_path, entry)["changed"] is True
    st = os.stat(tmp_path / "a.conf")
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert run(tmp_path, entry)["changed"] is False
