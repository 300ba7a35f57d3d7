# make run    install (first time / when requirements change), bootstrap the database, start every process
# make test   install the dev requirements and the MCP test server, run pytest with PYTEST_ARGS (default -q)
# make console-assets  install the web console's front-end packages (htmx, uPlot) from the npm registry
# make bench  run the benchmark
# make clean  remove the virtualenv and caches (keeps data/)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two test processes (pytest-xdist), a module's tests in one of them: each has its own Redis namespace,
# PostgreSQL database and temporary directory (tests/conftest.py), and most of a test's time is spent waiting
# for the processes it started. `PYTEST_ARGS=-q` (or plain `pytest`) runs them one at a time.
# A failed test runs once more (pytest-rerunfailures): the suite starts real processes on a loaded 2-core
# machine, where a start-up deadline can be missed; a rerun is listed as R / RERUN in the summary, and a
# test that fails twice fails the run.
PYTEST_ARGS ?= -q -n 2 --dist loadfile --reruns 1 --reruns-delay 1
BENCH_ARGS ?=
PROXY_BENCH_ARGS ?=

# The reference MCP server the tests drive over stdio: .cache/npm/node_modules/.bin/mcp-server-everything
NPM_PREFIX := .cache/npm
EVERYTHING_VERSION := 2026.8.31
EVERYTHING_STAMP := $(NPM_PREFIX)/.server-everything-$(EVERYTHING_VERSION)
# A client nobody here wrote, driven against the front door by tests/api/test_inspector.py: .cache/npm/node_modules/.bin/mcp-inspector
INSPECTOR_VERSION := 2.12.0
INSPECTOR_STAMP := $(NPM_PREFIX)/.inspector-$(INSPECTOR_VERSION)
# The web console's front-end packages (api/console), pinned, installed from the npm registry and copied into
# api/console/static/vendor (git-ignored), which the app serves: nothing is fetched from a CDN at run time.
HTMX_VERSION := 2.0.11
UPLOT_VERSION := 1.6.32
CONSOLE_NPM_PREFIX := .cache/console-npm
CONSOLE_VENDOR := api/console/static/vendor
CONSOLE_STAMP := $(CONSOLE_VENDOR)/.htmx-$(HTMX_VERSION)-uplot-$(UPLOT_VERSION)
# pytest's own exit code (make itself exits 2 on any failure); .ci/run reads it to tell "no tests" (5).
PYTEST_EXIT_FILE := .cache/pytest-exit-code

.DEFAULT_GOAL := help
.PHONY: help run test bench clean console-assets

help:
	@sed -n 's/^# \(make .*\)/\1/p' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: $(PYTHON) is older than Python 3.11; run e.g. 'make PYTHON=python3.11 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) \
		|| { rm -rf $(VENV); echo "error: could not create $(VENV) (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

# Stamps live inside the venv: a new venv reinstalls, a changed requirements file reinstalls.
$(VENV)/.requirements: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.requirements-dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(EVERYTHING_STAMP):
	npm install --prefix $(NPM_PREFIX) --no-audit --no-fund @modelcontextprotocol/server-everything@$(EVERYTHING_VERSION)
	@touch $@

$(INSPECTOR_STAMP):
	npm install --prefix $(NPM_PREFIX) --no-audit --no-fund --save-exact @modelcontextprotocol/inspector@$(INSPECTOR_VERSION)
	@touch $@

$(CONSOLE_STAMP):
	npm install --prefix $(CONSOLE_NPM_PREFIX) --no-audit --no-fund --save-exact \
		htmx.org@$(HTMX_VERSION) uplot@$(UPLOT_VERSION)
	rm -rf $(CONSOLE_VENDOR) && mkdir -p $(CONSOLE_VENDOR)
	cp $(CONSOLE_NPM_PREFIX)/node_modules/htmx.org/dist/htmx.min.js \
		$(CONSOLE_NPM_PREFIX)/node_modules/uplot/dist/uPlot.iife.min.js \
		$(CONSOLE_NPM_PREFIX)/node_modules/uplot/dist/uPlot.min.css $(CONSOLE_VENDOR)/
	@touch $@

console-assets: $(CONSOLE_STAMP)

# The Procfile says `python`, `gunicorn`: they must resolve to the venv. `honcho run` reads .env as `start` does.
IN_VENV := PATH="$(CURDIR)/$(BIN):$$PATH" VIRTUAL_ENV="$(CURDIR)/$(VENV)"
# Ctrl-C stops honcho, which then exits 130: the normal way to stop, not an error for make to report.
run: $(VENV)/.requirements $(CONSOLE_STAMP)
	$(IN_VENV) $(BIN)/honcho run python -m api.bootstrap
	$(IN_VENV) $(BIN)/honcho start || [ $$? -eq 130 ]

test: $(VENV)/.requirements-dev $(EVERYTHING_STAMP) $(INSPECTOR_STAMP) $(CONSOLE_STAMP)
	@mkdir -p $(dir $(PYTEST_EXIT_FILE)); rm -f $(PYTEST_EXIT_FILE)
	@status=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
		echo $$status > $(PYTEST_EXIT_FILE); exit $$status

bench: $(VENV)/.requirements-dev $(EVERYTHING_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.mcp_proxy $(PROXY_BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache $(CONSOLE_VENDOR)
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
