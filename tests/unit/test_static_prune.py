"""The proxy role's static archives on a load balancer (tasks/static.yml), run on the controller into a temporary
folder: each archive is unpacked once and marked with its files, and when one falls out of the last
reverse_proxy_static_keep, the files no kept archive holds go, with the folders left empty and its mark; a mark
from an older version of the role (no list of files) among the kept stops any removal. The balancer scenario runs
the same tasks with real releases, but never with more releases than the role keeps."""

import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "reverse_proxy"

# Each archive's files, as collectstatic would leave them (some shared between releases, as unchanged files are).
ARCHIVES = {
    "a1": ["css/common.css", "css/a1.abc123.css", "js/a1.js", "fonts/a1.woff"],
    "a2": ["css/common.css", "js/a2.js"],
    "a3": ["js/a3.js", "img/a3.png"],
}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="SKIPPED LOUDLY: the role unpacks as root (owner root); "
                                "run the unit tests as root, as CI does")


def _archive(tmp, name, files):
    """A gzip tar made as the app role makes it: `tar -czf NAME -C static .` (entries ./, ./css/, ...)."""
    source = tmp / "src" / name
    for path in files:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(f"{name}:{path}\n")
    archive = tmp / f"mathesar-{name}-static.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(source), "."], check=True)
    return archive


def _run(tmp, archives, keep=3):
    """The role's static tasks with these archives; the play's recap (ok, changed, ...) for localhost."""
    playbook = f"""
- hosts: localhost
  gather_facts: false
  vars_files: ["{ROLE}/defaults/main.yml", "{ROLE}/vars/main.yml"]
  tasks:
    - ansible.builtin.include_tasks: "{ROLE}/tasks/static.yml"
"""
    values = {"reverse_proxy_static_root": str(tmp / "static"), "reverse_proxy_static_archives": archives,
              "reverse_proxy_static_keep": keep, "__reverse_proxy_static_marks": str(tmp / "marks")}
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="0")
    run = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "/dev/stdin", "-e", json.dumps(values)],
                         input=playbook, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return json.loads(run.stdout)["stats"]["localhost"]


def _served(tmp):
    root = tmp / "static"
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def _folders(tmp):
    root = tmp / "static"
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_dir()}


def test_the_files_of_an_archive_that_falls_out_go(tmp_path):
    made = {name: str(_archive(tmp_path, name, ARCHIVES[name])) for name in ("a1", "a2", "a3")}
    _run(tmp_path, [made["a1"]], keep=2)
    mark = json.loads((tmp_path / "marks" / "mathesar-a1-static.tar.gz").read_text())
    assert mark == {"archive": "mathesar-a1-static.tar.gz", "files": sorted(ARCHIVES["a1"])}, mark
    # Two archives, two kept: nothing removed yet.
    _run(tmp_path, [made["a2"]], keep=2)
    assert _served(tmp_path) == set(ARCHIVES["a1"] + ARCHIVES["a2"])

    _run(tmp_path, [made["a3"]], keep=2)
    # a1 fell out: its own files go (css/common.css stays, a2 holds it), its folder fonts/ too, and its mark.
    assert _served(tmp_path) == set(ARCHIVES["a2"] + ARCHIVES["a3"])
    assert "fonts" not in _folders(tmp_path)
    assert sorted(path.name for path in (tmp_path / "marks").iterdir()) == [
        "mathesar-a2-static.tar.gz", "mathesar-a3-static.tar.gz"]
    # The same run again changes nothing.
    assert _run(tmp_path, [made["a3"]], keep=2)["changed"] == 0


def test_nothing_goes_while_a_kept_archive_has_an_old_mark(tmp_path):
    """Marks written before the role listed files hold the archive's name alone: while such an archive is kept, no
    file is removed; once it falls out itself, its files go like any other's."""
    marks, root = tmp_path / "marks", tmp_path / "static"
    marks.mkdir()
    for age, name in ((300, "old0"), (200, "old1")):
        (root / name).mkdir(parents=True)
        (root / name / f"{name}.js").write_text(name)
        mark = marks / f"mathesar-{name}-static.tar.gz"
        mark.write_text(f"{mark.name}\n")
        os.utime(mark, (mark.stat().st_mtime - age, mark.stat().st_mtime - age))
    a2 = str(_archive(tmp_path, "a2", ARCHIVES["a2"]))

    # keep 2: a2 and old1 are kept; old1's mark lists no files, so old0's file stays too.
    _run(tmp_path, [a2], keep=2)
    assert _served(tmp_path) == set(ARCHIVES["a2"]) | {"old0/old0.js", "old1/old1.js"}

    # keep 1: a2 alone is kept and its files are known: both old archives' files and folders go.
    _run(tmp_path, [a2], keep=1)
    assert _served(tmp_path) == set(ARCHIVES["a2"])
    assert not {"old0", "old1"} & _folders(tmp_path)
    assert [path.name for path in marks.iterdir()] == ["mathesar-a2-static.tar.gz"]


def test_keep_0_removes_nothing(tmp_path):
    made = {name: str(_archive(tmp_path, name, ARCHIVES[name])) for name in ("a1", "a2")}
    for name in ("a1", "a2"):
        _run(tmp_path, [made[name]], keep=0)
    assert _served(tmp_path) == set(ARCHIVES["a1"] + ARCHIVES["a2"])
