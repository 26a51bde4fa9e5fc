"""Filters of the mathesar.deploy collection."""

from ansible.errors import AnsibleFilterError


def systemd_env_quote(value):
    """Quote a value for a line KEY=VALUE that systemd's EnvironmentFile= and POSIX sh read alike.

    Inside double quotes both treat backslash as an escape for \\ " $ and `, so escaping exactly those keeps
    every printable character (spaces, ' # ; included) as it is.
    """
    text = str(value)
    if "\n" in text or "\r" in text:
        raise AnsibleFilterError("systemd_env_quote: environment values cannot contain line breaks")
    for char in ("\\", '"', "$", "`"):
        text = text.replace(char, "\\" + char)
    return '"' + text + '"'


class FilterModule:
    def filters(self):
        return {"systemd_env_quote": systemd_env_quote}
