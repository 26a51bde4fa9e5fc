"""scripts/role-docs.py: the README variable sections and meta/argument_specs.yml stay in step with the roles."""

import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "role-docs.py"


def role_docs(roles_dir, *args):
    return subprocess.run([sys.executable, str(SCRIPT), "--roles-dir", str(roles_dir), *args],
                          capture_output=True, text=True)


def replace_once(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} in {path}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def postgres(tmp_path):
    shutil.copytree(REPO / "roles" / "postgres", tmp_path / "postgres")
    return tmp_path / "postgres"


def test_the_real_tree_passes():
    result = role_docs(REPO / "roles", "--check")
    assert result.returncode == 0, result.stderr


def test_the_copy_passes_before_anything_is_planted(postgres):
    result = role_docs(postgres.parent, "--check")
    assert result.returncode == 0, result.stderr


DRIFTS = {
    "readme_edited": (
        lambda role: replace_once(role / "README.md", "TCP port (`port`).", "TCP port."),
        "postgres: postgres_port: README.md differs"),
    "spec_default_changed": (
        lambda role: replace_once(role / "meta" / "argument_specs.yml", "default: 5432\n", "default: 5433\n"),
        "postgres: postgres_port: meta/argument_specs.yml (main) has default 5433, defaults/main.yml 5432"),
    "variable_not_in_spec": (
        lambda role: (role / "defaults" / "main.yml").open("a").write("postgres_extra_knob: 1\n"),
        "postgres: postgres_extra_knob: set in defaults/main.yml but not an option"),
    "spec_default_not_in_defaults": (
        lambda role: replace_once(role / "defaults" / "main.yml", "postgres_max_connections: 100\n", ""),
        "postgres: postgres_max_connections: meta/argument_specs.yml (main) has default 100 but "
        "defaults/main.yml does not set it"),
}


@pytest.mark.parametrize("plant", DRIFTS)
def test_check_names_the_drifted_variable(postgres, plant):
    mutate, message = DRIFTS[plant]
    mutate(postgres)
    result = role_docs(postgres.parent, "--check")
    assert result.returncode == 1
    assert message in result.stderr


def test_check_writes_nothing_and_a_run_regenerates_the_readme(postgres):
    DRIFTS["readme_edited"][0](postgres)
    edited = (postgres / "README.md").read_text()
    role_docs(postgres.parent, "--check")
    assert (postgres / "README.md").read_text() == edited
    assert role_docs(postgres.parent).returncode == 0
    assert (postgres / "README.md").read_text() == (REPO / "roles" / "postgres" / "README.md").read_text()
    assert role_docs(postgres.parent, "--check").returncode == 0


def test_a_templated_description_is_refused(postgres):
    # ansible templates the whole argument spec before the role runs, descriptions included.
    replace_once(postgres / "meta" / "argument_specs.yml", "Connection type.", "Connection type {{ nope }}.")
    result = role_docs(postgres.parent, "--check")
    assert result.returncode == 1
    assert "postgres: postgres_hba_entries.type: Jinja in the description" in result.stderr
