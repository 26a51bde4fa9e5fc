"""Unit tests of the collection's filter and test plugins."""

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "filter"))
sys.path.insert(0, str(REPO / "plugins" / "test"))
sys.path.insert(0, str(REPO / "tests" / "unit"))

from env_values import NASTY  # noqa: E402
from hosts import bare_host  # noqa: E402
from systemd_env import systemd_env_quote  # noqa: E402


@pytest.mark.parametrize("value", NASTY)
def test_quoted_value_reads_back_the_same_in_sh(value, tmp_path):
    env = tmp_path / "env"
    env.write_text(f"V={systemd_env_quote(value)}\n")
    out = subprocess.run(["sh", "-c", f'. "{env}" && printf %s "$V"'], capture_output=True, text=True,
                         check=True)
    assert out.stdout == value


@pytest.mark.parametrize("value", NASTY)
def test_quoted_value_reads_back_the_same_in_systemd(value, tmp_path):
    systemd_run = "/usr/bin/systemd-run"
    if not pathlib.Path("/run/systemd/system").exists():
        pytest.skip("SKIPPED LOUDLY: no systemd running on this controller; systemd's own parsing of the "
                    "environment file is checked on the targets instead, by every scenario's shared suite "
                    "(test_app_host.py::test_systemd_reads_the_quoted_values_back)")
    env = tmp_path / "env"
    env.write_text(f"V={systemd_env_quote(value)}\n")
    out = subprocess.run([systemd_run, "--wait", "--pipe", "-q", f"-pEnvironmentFile={env}",
                          "/usr/bin/printenv", "V"], capture_output=True, text=True, check=True)
    assert out.stdout == value + "\n"


def test_line_breaks_are_refused():
    with pytest.raises(Exception, match="line breaks"):
        systemd_env_quote("a\nb")


@pytest.mark.parametrize("value", ["mathesar.example.org", "localhost", "203.0.113.10", "::1", "a-b.c"])
def test_bare_host_accepts(value):
    assert bare_host(value)


@pytest.mark.parametrize("value", ["https://mathesar.example.org", "mathesar.example.org/", "ex ample.org",
                                   "host:8080", "", "-bad.org", "10.0.0.300", "trailing.dot."])
def test_bare_host_refuses(value):
    assert not bare_host(value)
