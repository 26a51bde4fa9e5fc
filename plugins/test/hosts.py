"""Tests of the mathesar.deploy collection."""

import ipaddress
import re

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def bare_host(value):
    """True for a host name or an IP address with nothing else: no scheme, port, path or spaces."""
    text = str(value)
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    if not text or len(text) > 253 or text.endswith("."):
        return False
    labels = text.split(".")
    if labels[-1].isdigit():  # 10.0.0.300 is neither an address nor a name
        return False
    return all(_LABEL.match(label) for label in labels)


class TestModule:
    def tests(self):
        return {"bare_host": bare_host}
