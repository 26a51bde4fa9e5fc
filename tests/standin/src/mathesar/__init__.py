"""TEST DOUBLE — not Mathesar; a stand-in used by mathesar.deploy's tests."""
__version__ = "0.0.0-standin"  # stamped by tests/standin/build.sh
