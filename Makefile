# The two commands of the README. Both set up what they need on a fresh machine.
.PHONY: serve test lint bench

serve:
	@scripts/bootstrap.sh
	.venv/bin/vidgen serve

# Tests run in parallel processes (pytest-xdist); `make test WORKERS=1` runs them in one.
WORKERS ?= 2

test:
	@scripts/bootstrap.sh --dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/python -m pytest -n $(WORKERS) --dist worksteal

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:
	@scripts/bootstrap.sh --dev
	.venv/bin/python bench/preview_engine.py
	.venv/bin/python bench/poll_throughput.py
	.venv/bin/python bench/dispatch.py
