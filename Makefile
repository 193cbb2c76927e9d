# newsarchive: `make crawl` and `make test` work on a fresh machine (Python 3.11+ with venv).
PYTHON ?= python3
VENV ?= .venv
PYWB_VENV ?= .venv-pywb
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup pywb system-deps crawl test lint demo bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $@

pywb:
	PYWB_VENV=$(PYWB_VENV) bash .ci/pywb-venv.sh

# chromium + a CJK font for the browser tests (apt-get, when root and missing)
system-deps:
	bash .ci/system-deps.sh

crawl: setup
	$(BIN)/newsarchive crawl --sources settings/sources.toml --archive ./archive

test: setup pywb system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, mypy, import-linter contracts, vulture (configured in pyproject.toml): CI fails on any.
lint: setup
	VENV=$(VENV) bash .ci/lint

demo: setup
	$(BIN)/python -m crawler.demo.run ./demo-archive

bench: setup pywb
	$(BIN)/python bench/crawl.py --corpus ../shared/corpus
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/dedup_quality.py --corpus ../shared/corpus
	$(BIN)/python bench/dedup_speed.py --corpus ../shared/corpus

clean:
	rm -rf demo-archive demo-articles.jsonl .pytest_cache
