# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and reuse it otherwise; `make test` also node_modules (the CDK CLI).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
SITE   := site
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: venv test unit integration infra demo up synth bench lint docs docs-build clean

venv: $(STAMP)

# The first run says what it does before its quiet install. uv installs the pins in one resolver pass, in
# seconds where pip took about 80 s here; it shows a build's output (setuptools' "Editable installation"
# warning box among it) only when the build fails.
UV_VERSION := 0.13.10
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "$(PYTHON) is older than Python 3.11: run with PYTHON=python3.11 (or newer)" >&2; exit 1; }
	@test -x $(PY) && echo "Installing the changed requirements into $(VENV) (quietly; seconds)..." || \
		echo "First run: creating $(VENV) and installing the dependencies (quietly; about half a minute, once)..."
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.txt
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Lint and type checks first: they take seconds, and CI runs only this target. Three workers on two
# cores: the integration tests mostly wait on their stacks' timeouts. Each module's tests stay in one
# worker, the longest first (tests/conftest.py). The tests that hold a bound in seconds (marked `timed`)
# run after the others, alone, where the bound measures the code rather than the load beside it.
# The checks before the tests run side by side (mypy, cdk synth and mkdocs each keep one core busy for a
# while), each one's output printed whole when it ends.
TEST_WORKERS ?= 3
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadscope
test: $(STAMP) $(NODE_STAMP)
	@$(MAKE) --no-print-directory --jobs=3 --output-sync=target lint docs-build synth
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not timed" --durations=15
	$(PY) -m pytest -m timed --durations=5 tests/unit tests/integration

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit

integration: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not timed" tests/integration
	$(PY) -m pytest -m timed tests/integration

infra: $(STAMP) synth
	$(PY) -m pytest tests/infra

demo: $(STAMP)
	$(PY) -m local.demo $(ARGS)

# The local stack as a service for your own producers and tools, until Ctrl-C or SIGTERM (a clean stop
# exits 0, so make reports no error).
up: $(STAMP)
	$(PY) -m local.up $(ARGS)

synth: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

bench: $(STAMP)
	$(PY) -m benchmarks $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The documentation (docs/, mkdocs.yml): `make docs` serves it at http://127.0.0.1:8000 and rebuilds on
# every change; `docs-build` (in `make test`) fails on a broken link or anchor, or a page left out of the
# nav. Not --quiet: it hides the warnings that --strict counts, and the build would pass.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

docs-build: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir $(SITE)

clean:
	rm -rf $(VENV) node_modules cdk.out $(SITE) .pytest_cache .mypy_cache .ruff_cache .hypothesis
