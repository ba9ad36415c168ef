#!/usr/bin/env bash
# Set up everything vidgen needs on a fresh Debian-like machine, idempotently:
#   scripts/bootstrap.sh          the server: a virtualenv in .venv with vidgen installed
#   scripts/bootstrap.sh --dev    also what the tests use (test tools, system packages)
# A stamp in .venv skips the pip step while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "vidgen needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
  exit 1
fi

if [[ $dev == 1 && -x scripts/system-packages.sh ]]; then
  scripts/system-packages.sh
fi

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
extras=$([[ $dev == 1 ]] && echo "[dev]" || echo "")
stamp=".venv/.vidgen-installed$extras"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "==> installing vidgen$extras into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$extras"
  echo "$want" > "$stamp"
fi
