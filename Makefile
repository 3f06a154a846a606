# Every set-up step lives here: `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
# bash with pipefail: a recipe that pipes a command's output through a filter still fails when
# the command does.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup codegen check-codegen lint format typecheck test check clean bench demo e2e docs

setup: $(STAMP)

$(STAMP): pyproject.toml packages/sdkgen/pyproject.toml
	@echo "== setup: a venv in $(VENV) with tinkex, the sdkgen kit and their dev tools"
	@echo "   (about 1.5 min on 2 cores with a warm pip cache; torch's CPU wheel is the longest step)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# The kit (generator + runtime, packages/sdkgen) and tinkex, editable, resolved together.
	@# pip's own progress lines (not --quiet): a long install is never silent for minutes.
	$(PY) -m pip install --progress-bar off -e 'packages/sdkgen[codegen]' -e '.[dev]' \
		| { grep --line-buffered -E '^(Collecting|Installing|Successfully)' || true; }
	touch $(STAMP)

codegen: $(STAMP)
	$(PY) -m sdkgen generate manifest/tinker.yaml --out src/tinkex/_generated --reference docs/reference.md
	$(PY) -m sdkgen generate examples/skyrl_openapi/skyrl.yaml --out examples/skyrl_openapi/skyrl_sdk
	$(PY) -m sdkgen generate packages/sdkgen/examples/kvstore/kvstore.yaml --out packages/sdkgen/examples/kvstore/kvstore_sdk
	@# The type checkers' view of the lazily loaded public names, written from their _EXPORTS maps.
	$(PY) -m sdkgen exports src/tinkex/__init__.py packages/sdkgen/src/sdkgen/runtime/__init__.py

check-codegen: $(STAMP)
	$(PY) -m sdkgen generate manifest/tinker.yaml --out src/tinkex/_generated --reference docs/reference.md --check
	$(PY) -m sdkgen generate examples/skyrl_openapi/skyrl.yaml --out examples/skyrl_openapi/skyrl_sdk --check
	$(PY) -m sdkgen generate packages/sdkgen/examples/kvstore/kvstore.yaml --out packages/sdkgen/examples/kvstore/kvstore_sdk --check
	$(PY) -m sdkgen exports src/tinkex/__init__.py packages/sdkgen/src/sdkgen/runtime/__init__.py --check

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck: $(STAMP)
	$(PY) -m mypy
	$(VENV)/bin/pyright --pythonpath $(PY)

# tinkex's tests, then the kit's (run from its own directory, as its own project).
test: $(STAMP)
	$(PY) -m pytest
	cd packages/sdkgen && $(abspath $(PY)) -m pytest

check: check-codegen lint typecheck test

# The docs site (guides and the API reference from the docstrings) into site/; --strict turns
# every warning (a broken link, an unresolved cross-reference, a docstring griffe cannot read)
# into a failure.
docs: $(STAMP)
	@# NO_MKDOCS_2_WARNING: mkdocs-material's banner about its successor, not a build warning.
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

# A benchmark, not a test: tinkex against the official tinker SDK (and a bare-httpx floor) on a
# local stub server. Its own venv, so that tinker==0.38.0 is never installed next to tinkex's
# tests; each contender runs in a process of its own. BENCH_ARGS, e.g. --quick, --json PATH.
BENCH_VENV  := .venv-bench
BENCH_PY    := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml packages/sdkgen/pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet 'tinker==0.38.0' -e packages/sdkgen -e .
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@# An editable install has no bytecode; a wheel install (as tinker's) compiles it at install
	@# time. Compile tinkex's too, so that import rows compare like with like even where
	@# PYTHONDONTWRITEBYTECODE is set (it is on these machines).
	$(BENCH_PY) -m compileall -q src/tinkex packages/sdkgen/src/sdkgen > /dev/null
	$(BENCH_PY) bench/run.py $(BENCH_ARGS)

# The first command of a new user: a real LoRA run on a local skyrl-tx server (built and cached
# under ~/.cache/tinkex on first use: about 5 minutes on 2 cores, a line per step and a heartbeat
# every 10 s on stderr), or on TINKER_BASE_URL when it and TINKER_API_KEY are set.
demo: $(STAMP)
	$(PY) examples/quickstart.py

# End-to-end: the e2e suite and every example against the real local backend.
e2e: $(STAMP)
	TINKEX_E2E=1 $(PY) -m pytest tests/e2e -q
	$(PY) examples/run_all.py
	@# Issue 10's full chaos loop: 30 s of dropped connections and cut answers on every path
	@# (make test runs the same test for 12 s).
	TINKEX_CHAOS_SECONDS=30 $(PY) -m pytest tests/integration/test_chaos_loop.py -q -p no:randomly
	@# The kit alone: installed into a fresh venv without tinkex, it generates and runs a sibling SDK.
	cd packages/sdkgen && SDKGEN_STANDALONE=1 $(abspath $(PY)) -m pytest tests/standalone -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
