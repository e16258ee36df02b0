# Two commands for a newcomer: `make run` and `make test`. Both build .venv from requirements.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
# Development server only: debug on, local secret key.
DEV_ENV := DJANGO_DEBUG=1

# `make serve`: the production setup on this machine (gunicorn, debug off, whitenoise).
WORKERS ?= $(shell echo $$(( $$(nproc) * 2 + 1 )))
SERVE_ENV = DJANGO_DEBUG=0 DJANGO_SECURE_SSL_REDIRECT=0 \
	DJANGO_SECRET_KEY="$$(cat .local/secret-key)" \
	DJANGO_ALLOWED_HOSTS="$${DJANGO_ALLOWED_HOSTS:-localhost,127.0.0.1}"

.PHONY: run serve test setup venv browser npm lint format migrations-check clean backup restore

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

## Migrate, load the fixtures, create the reviewer groups and a local admin login.
setup: venv
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py load_fixtures
	$(DEV_ENV) $(PY) manage.py ensure_admin

# The background worker (`manage.py run_huey`: the admin's imports) runs beside the server and
# stops with it: the trap ends it however the server ends (Ctrl-C, an error, a kill).
WITH_WORKER = worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM;

## Serve on http://127.0.0.1:$(PORT) with the fixtures loaded, and the background worker.
run: setup
	@echo "Serving on http://127.0.0.1:$(PORT)/ (admin at /admin/), with the worker for imports"
	$(DEV_ENV) $(PY) manage.py run_huey & $(WITH_WORKER) \
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

.local/secret-key:
	mkdir -p .local
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
	chmod 600 $@

## Production setup, locally: gunicorn with $(WORKERS) sync workers (2 x cores + 1), debug off,
## static files collected and served by whitenoise, `check --deploy` clean, and the background
## worker. Put TLS (and the HTTP-to-HTTPS redirect) in the proxy in front;
## DJANGO_SECURE_SSL_REDIRECT=1 to let Django do it.
serve: setup .local/secret-key
	$(SERVE_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(SERVE_ENV) $(PY) manage.py check --deploy --fail-level WARNING
	$(SERVE_ENV) $(PY) manage.py run_huey & $(WITH_WORKER) \
	$(SERVE_ENV) $(VENV)/bin/gunicorn diplomacy.wsgi:application --bind 127.0.0.1:$(PORT) \
	  --workers $(WORKERS) --access-logfile - --max-requests 10000 --max-requests-jitter 500

## Debian's Chromium for the browser tests (Playwright cannot download a browser here).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "Could not install chromium: the browser tests will fail. Run: apt-get install -y chromium"; \
	  else \
	    echo "No $(CHROMIUM): the browser tests will fail. Run (as root): apt-get install -y chromium"; \
	  fi; \
	fi

## npm's packages (package-lock.json): axe-core for the accessibility tests, and the Natural
## Earth shapes that `manage.py build_world_map` turns into events/data/world-map.json (committed,
## so `make run` needs no npm). Installs Debian's npm when it is missing and it can (root, apt);
## otherwise it stops with the command that does.
node_modules/.installed: package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's npm for the accessibility tests' axe-core"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; \
	  fi; \
	fi
	@command -v npm >/dev/null || { echo "npm not found: the tests need axe-core and world-atlas from npm. Run (as root): apt-get install -y npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --silent
	touch $@

npm: node_modules/.installed

## The whole suite, ruff included (tests/test_code_style.py).
test: venv browser npm
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

migrations-check: venv
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run

## Known vulnerabilities in requirements.txt (pip-audit, .ci/audit.py): fails on a finding, and
## fails loudly when the vulnerability service cannot be reached. pip-audit has its own
## virtualenv, so that its dependencies stay out of the project's. AUDIT_SERVICE=osv for OSV.
PIP_AUDIT := pip-audit==2.10.1
AUDIT_VENV := .local/audit-venv
AUDIT_SERVICE ?= pypi
.PHONY: audit
$(AUDIT_VENV)/.installed:
	test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet "$(PIP_AUDIT)"
	touch $@

audit: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/python .ci/audit.py --service $(AUDIT_SERVICE) requirements.txt

## Faults under load (bench/faults.py): a worker killed at 20 s, the database's connections
## ended at 40 s, 60 s in all; needs PostgreSQL and Redis on 127.0.0.1 (bench/README.md).
.PHONY: faults
faults: venv
	$(PY) bench/faults.py $(FAULTS_ARGS)

## Back up the database (DATABASE_URL, else db.sqlite3) into backups/ (BACKUP_DIR=… elsewhere):
## a pg_dump archive or a SQLite copy, and its manifest. Safe while the site runs.
backup: venv
	$(DEV_ENV) $(PY) manage.py backup --output-dir "$(or $(BACKUP_DIR),backups)"

## Restore a backup into an empty database and check it against its manifest:
## make restore FILE=backups/diplomacy-….dump (DATABASE_URL names the new, empty database).
restore: venv
	@test -n "$(FILE)" || { echo "Usage: make restore FILE=backups/<backup>.dump|.sqlite3" >&2; exit 2; }
	$(DEV_ENV) $(PY) manage.py restore "$(FILE)"

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache test-artifacts
