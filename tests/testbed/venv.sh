#!/usr/bin/env bash
# Create or refresh the controller venv at .venv with the pinned tools (requirements-dev.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -c1-64)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -r requirements-dev.txt
echo "$want" > "$stamp"
echo "venv: .venv ready"
