# aidservice: `make run` serves the demo, `make test` runs lint and the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
STAMP  := $(VENV)/.install.stamp

.PHONY: help install run test faults lint bench messages lock

help:
	@echo "make install   create $(VENV) and install aidservice with its test extras from the hashed lock requirements/test.txt"
	@echo "make run       migrate the SQLite database, load the demo province once, serve on 127.0.0.1:\$${PORT:-5000}"
	@echo "make test      ruff + pytest on TEST_WORKERS=2 workers (SQLite always; PostgreSQL when TEST_DATABASE_URL is set or 127.0.0.1:5432 answers;"
	@echo "               browser tests when /usr/bin/chromium is installed, screenshots in tests/browser/screenshots/)"
	@echo "make faults    the real fault scenarios (tests/faults, marker outage): gunicorn worker and aid redetermine"
	@echo "               killed with -9, a private PostgreSQL restarted under load, SQLite on a full and a read-only"
	@echo "               file system; needs root (private PostgreSQL as the postgres user, unshare for a tmpfs)"
	@echo "make lint      ruff check, ruff format --check, import contracts (lint-imports), mypy against its baseline;"
	@echo "               runs all four and fails if any failed"
	@echo "make bench     run the benchmarks (bench/run_all.py)"
	@echo "make messages  extract the UI texts into aidservice/translations/messages.pot, update the zh_CN and en"
	@echo "               catalogues (new texts with an empty msgstr, unused ones dropped) and compile the .mo files"
	@echo "make lock      recompile requirements/runtime.txt and test.txt from pyproject.toml (pip-compile, hashes);"
	@echo "               UPGRADE='werkzeug jinja2' moves those packages to their newest allowed versions, UPGRADE=all all"

install: $(STAMP)
	@# this environment sets PYTHONDONTWRITEBYTECODE: compile once here so commands start without recompiling
	@$(PY) -m compileall -q aidservice config.py wsgi.py >/dev/null

# Reinstalls only when pyproject.toml or the lock changes; a fresh clone gets a fresh virtualenv. Every
# third-party package comes from the lock, checked against its hashes; aidservice itself goes on top without
# dependencies (its build backend, setuptools, is fetched by pip's build isolation).
LOCK := requirements/test.txt
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

run: install
	$(FLASK) db upgrade
	$(FLASK) aid rules publish
	@# ---- demo data hook ----------------------------------------------------------------
	@# Loads the synthetic province once, into the embedded demo database only: DATABASE_URL unset,
	@# AID_ENV not production, `flask --app wsgi aid demo-data` exists and the database has no
	@# students (see scripts/demo_needed.py). The command writes the demo logins to
	@# instance/demo-logins.txt; they are printed below (for the embedded database only).
	@if $(PY) scripts/demo_needed.py; then $(FLASK) aid demo-data; fi
	@# -------------------------------------------------------------------------------------
	@echo "aidservice:  http://127.0.0.1:$${PORT:-5000}/"
	@echo "API docs:    http://127.0.0.1:$${PORT:-5000}/api/v1/docs"
	@echo "health:      http://127.0.0.1:$${PORT:-5000}/api/v1/health"
	@if [ -z "$${DATABASE_URL}" ] && [ -f instance/demo-logins.txt ]; then echo "demo logins:"; cat instance/demo-logins.txt; fi
	@# gunicorn.conf.py: 127.0.0.1:$$PORT, 2 sync workers, timeout 120 s, a worker replaced after ~1000 requests,
	@# no control socket (it lives at one path in $$HOME, so two servers or checkouts would fight over it)
	exec $(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

# Two workers (pytest-xdist) on these 2-core machines: about 10 minutes against 18 in one process.
TEST_WORKERS ?= 2

test: lint
	$(VENV)/bin/pytest -q $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS))

# Not in `make test` (about 2 minutes on a quiet machine, far more on a busy one); .ci/run runs both.
faults: install
	$(VENV)/bin/pytest -q -m outage tests/faults

# Every gate runs even when an earlier one fails, so one run shows all that is wrong; then lint fails if any did.
# lint-imports: the contracts in pyproject.toml [tool.importlinter]; scripts/mypy_baseline.py: no mypy error
# beyond scripts/mypy-baseline.txt (and it says when that baseline can shrink); scripts/check_lock.py: the lock
# requirements/*.txt agrees with pyproject.toml (offline, from the files alone).
LINT_GATES := "$(VENV)/bin/ruff check ." "$(VENV)/bin/ruff format --check ." \
	"$(VENV)/bin/lint-imports --no-cache --no-logo" "$(PY) scripts/mypy_baseline.py" \
	"$(PY) scripts/check_lock.py"

lint: install
	@failed=""; for gate in $(LINT_GATES); do echo "+ $$gate"; $$gate || failed="$$failed\n  $$gate"; done; \
	if [ -n "$$failed" ]; then printf "make lint: failed:$$failed\n" >&2; exit 1; fi

bench: install
	@$(PY) -c "import aiohttp, pyinstrument" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@if [ -f bench/run_all.py ]; then $(PY) bench/run_all.py; else echo "bench/run_all.py does not exist yet"; fi

# The gettext catalogues (README "Translations"): extract with babel.cfg, update both catalogues, compile. The
# .mo files are committed (a wheel ships them; tests/web/test_catalogues.py checks they match the .po files).
# No line numbers and sorted entries, so that branches adding texts rarely touch the same lines.
CATALOGUE := aidservice/translations
PYBABEL   := $(VENV)/bin/pybabel
messages: install
	$(PYBABEL) -q extract -F babel.cfg -k translate:1 --add-location=file --sort-output --no-wrap \
		--project=aidservice --version=0.1.0 -o $(CATALOGUE)/messages.pot .
	@for locale in zh_CN en; do \
		if [ -f $(CATALOGUE)/$$locale/LC_MESSAGES/messages.po ]; then \
			$(PYBABEL) -q update -i $(CATALOGUE)/messages.pot -d $(CATALOGUE) -l $$locale --no-wrap \
				--no-fuzzy-matching --ignore-obsolete || exit 1; \
		else \
			$(PYBABEL) -q init -i $(CATALOGUE)/messages.pot -d $(CATALOGUE) -l $$locale --no-wrap || exit 1; \
		fi; \
	done
	$(PYBABEL) -q compile -d $(CATALOGUE) --statistics

# The lock (README "Dependencies"): pip-tools in its own virtualenv ($(VENV)/tools), so that it never shifts a
# locked package. Resolved with this machine's Python 3.11 on Linux; the header says so. pip-compile keeps the
# pins already in the files unless pyproject.toml excludes them or UPGRADE names them.
TOOLS       := $(VENV)/tools
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --quiet --generate-hashes --strip-extras \
	--allow-unsafe --no-emit-index-url --no-emit-find-links \
	$(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))
LOCK_NOTE_1 := \# Resolved for CPython 3.11 on Linux x86_64 (glibc): environment markers were evaluated for this
LOCK_NOTE_2 := \# platform only; the hashes cover every file the index has for each pinned version. Installed by
LOCK_NOTE_3 := \# make install: pip install --require-hashes -r requirements/test.txt, then pip install --no-deps -e .
lock:
	@test -x $(TOOLS)/bin/pip-compile || { python3 -m venv $(TOOLS) && \
		$(TOOLS)/bin/pip install --quiet --disable-pip-version-check pip-tools==7.7.0; }
	$(PIP_COMPILE) -o requirements/runtime.txt pyproject.toml
	$(PIP_COMPILE) --extra test -o requirements/test.txt pyproject.toml
	@for lock in requirements/runtime.txt requirements/test.txt; do sed -i '/^#    make lock/a #\n$(LOCK_NOTE_1)\n$(LOCK_NOTE_2)\n$(LOCK_NOTE_3)' $$lock; done
	$(TOOLS)/bin/python scripts/check_lock.py
