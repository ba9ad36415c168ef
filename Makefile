# The two commands of the README. Both set up what they need on a fresh machine.
.PHONY: serve test lint bench

serve:
	@scripts/bootstrap.sh
	.venv/bin/vidgen serve

test:
	@scripts/bootstrap.sh --dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench:
	@scripts/bootstrap.sh --dev
	.venv/bin/python bench/preview_engine.py
	.venv/bin/python bench/poll_throughput.py
