# Shortcuts for the README's two commands; dev.py does the work (it needs only Python 3.11+).
PYTHON ?= python3

.PHONY: serve test lint bench-quick clean

serve:
	$(PYTHON) dev.py serve $(ARGS)

test:
	$(PYTHON) dev.py test $(PYTEST_ARGS)

bench-quick:
	$(PYTHON) dev.py bench ingest --quick
	$(PYTHON) dev.py bench nearby --quick

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
