# The two commands of the README. Both set up what they need on a fresh machine.
.PHONY: serve test lint bench

# `make serve PORT=8080 HOST=0.0.0.0`: where it listens (vidgen serve --port/--host). Plain
# assignments: only the command line overrides them, not a PORT or HOST the environment holds.
HOST = 127.0.0.1
PORT = 8000

serve:
	@scripts/bootstrap.sh
	.venv/bin/vidgen serve --host $(HOST) --port $(PORT)

# Tests run in parallel processes (pytest-xdist); `make test WORKERS=1` runs them in one.
WORKERS ?= 2

test:
	@scripts/bootstrap.sh --dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	.venv/bin/python -m pytest -n $(WORKERS) --dist worksteal

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports

bench:
	@scripts/bootstrap.sh --dev
	.venv/bin/python bench/preview_engine.py
	.venv/bin/python bench/poll_throughput.py
	.venv/bin/python bench/dispatch.py
