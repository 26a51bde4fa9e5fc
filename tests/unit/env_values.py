"""Values that break naive quoting: the systemd_env_quote filter must carry each one unchanged. Shared by the
unit tests (sh) and the scenarios' app-host suite (systemd's own parser, on the targets)."""

NASTY = [
    "plain",
    "with spaces  and  doubles",
    "q'uote \"double\" $HOME ${X} `id` back\\slash \\n #hash ;semi",
    "ends with backslash\\",
    "$",
    "",
]
