#!/usr/bin/env bash
# Set up everything vidgen needs on a fresh Debian-like machine, idempotently:
#   scripts/bootstrap.sh          the server: a virtualenv in .venv with vidgen-api[server]
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
# The distribution's own dependencies are only the SDK's; the server is its `server` extra.
extras=$([[ $dev == 1 ]] && echo "[server,dev,gpu]" || echo "[server]")
# The torch the tests use. Installed first and held by a constraint, so that the gpu extra finds
# it satisfied: an unpinned torch would pull a multi-GB CUDA build onto a machine with no GPU.
torch_version=2.13.0
stamp=".venv/.vidgen-installed$extras"
want="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "==> installing vidgen-api$extras into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  # The distribution was called `vidgen` before it was renamed (that name on PyPI is another
  # project's): an old editable install would register vidgen's engines a second time.
  if .venv/bin/python -m pip show --quiet vidgen >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall --quiet --yes vidgen
  fi
  if [[ $dev == 1 ]]; then
    constraints=$(mktemp)
    trap 'rm -f "$constraints"' EXIT
    echo "torch==$torch_version" > "$constraints"
    # --no-compile, then one parallel compileall below: pip byte-compiles torch's and
    # transformers' thousands of modules one by one, which takes minutes.
    .venv/bin/python -m pip install --quiet --no-compile -c "$constraints" "torch==$torch_version"
    .venv/bin/python -m pip install --quiet --no-compile -c "$constraints" -e ".$extras"
  else
    .venv/bin/python -m pip install --quiet --no-compile -e ".$extras"
  fi
  # Bytecode for everything installed, on all cores (~20 s for the dev set). Without it, where
  # PYTHONDONTWRITEBYTECODE is set (CI images often set it), every process would compile
  # FastAPI, SQLAlchemy, torch… from source again: seconds per server start, ~20 s per torch.
  .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null || true
  echo "$want" > "$stamp"
fi
# vidgen's own modules, for the same reason (only what changed is compiled again).
.venv/bin/python -m compileall -q -j 0 vidgen tests bench >/dev/null || true
