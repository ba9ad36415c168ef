#!/usr/bin/env bash
# Set up everything vidgen needs on a fresh Debian-like machine, idempotently:
#   scripts/bootstrap.sh          the server: a virtualenv in .venv with vidgen installed
#   scripts/bootstrap.sh --dev    also what the tests use (test tools, system packages, and the
#                                 gpu extra on a CPU torch: the diffusers engine's tests run tiny
#                                 models on the CPU)
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
extras=$([[ $dev == 1 ]] && echo "[dev,gpu]" || echo "")
# The torch the tests use. Installed first and held by a constraint, so that the gpu extra finds
# it satisfied: an unpinned torch would pull a multi-GB CUDA build onto a machine with no GPU.
torch_version=2.13.0
stamp=".venv/.vidgen-installed$extras"
want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "==> installing vidgen$extras into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  if [[ $dev == 1 ]]; then
    constraints=$(mktemp)
    trap 'rm -f "$constraints"' EXIT
    echo "torch==$torch_version" > "$constraints"
    # --no-compile: byte-compiling torch's and transformers' thousands of modules up front
    # takes minutes; Python compiles the few that are imported on first use.
    .venv/bin/python -m pip install --quiet --no-compile -c "$constraints" "torch==$torch_version"
    .venv/bin/python -m pip install --quiet --no-compile -c "$constraints" -e ".$extras"
  else
    .venv/bin/python -m pip install --quiet -e ".$extras"
  fi
  echo "$want" > "$stamp"
fi
