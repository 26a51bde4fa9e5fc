#!/usr/bin/env bash
# Print the Mathesar version a release archive carries (mathesar/__init__.py's __version__).
#   tests/testbed/archive-version.sh /path/mathesar.tar.gz
set -euo pipefail
version=$(tar -xzOf "${1:?usage: archive-version.sh ARCHIVE}" mathesar/__init__.py \
  | sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p')
[ -n "$version" ] || { echo "archive-version: no __version__ in $1" >&2; exit 1; }
echo "$version"
