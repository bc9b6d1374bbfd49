# The whole set-up on a fresh machine with Python 3.11: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install lock run serve migrate test test-postgres screenshots test-s3 test-integrity test-scaleout test-faults bench-realtime lint asyncapi-validate format schema fuzz demo bench superuser clean

help:  ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the pins change. Every package, transitive ones included, is pinned
# with its hashes (compiled by `make lock`), so every install is the same tree.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed  ## Create .venv and install the locked requirements

PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

lock: install  ## Recompile requirements*.txt from requirements*.in (after editing a .in file)
	$(PIP_COMPILE) -o requirements.txt requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in

migrate: install  ## Apply database migrations (debug settings)
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput

run: migrate  ## Serve the API with debug on at http://127.0.0.1:8000
	DJANGO_DEBUG=1 $(BIN)/python -m chat_project.devserver --host $(HOST) --port $(PORT)

# With LOG_FORMAT=json nothing but the server's JSON lines: make's echo and migrate's
# progress (prints, not log lines) are left out.
SERVE_QUIET := $(if $(filter json,$(LOG_FORMAT)),@,)
serve: install  ## Production server: gunicorn, debug off (needs DJANGO_SECRET_KEY; see README)
	$(SERVE_QUIET)$(BIN)/python manage.py migrate --noinput $(if $(SERVE_QUIET),-v0,)
	$(SERVE_QUIET)$(BIN)/python manage.py collectstatic --noinput -v0
	$(SERVE_QUIET)$(BIN)/gunicorn

# The suite runs in one process per core (pytest-xdist), at most 4: each process that gets
# browser tests starts its own server and Chromium. TEST_PROCESSES=0 runs it in this one.
TEST_PROCESSES ?= auto
PYTEST_PARALLEL = -n $(TEST_PROCESSES) --maxprocesses 4

test: install  ## Run the test suite (SQLite, or DATABASE_URL if set)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

# The browser tests are left out: their server has its own SQLite database whatever the
# suite's is, so a second run would repeat `make test`'s.
test-postgres: install  ## Run the test suite against PostgreSQL at 127.0.0.1:5432
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/chat} $(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not browser"

screenshots: install  ## Retake the chat page's pictures in docs/screenshots (the browser tests)
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -m browser webapp/tests

test-s3: install  ## The attachment tests on object storage: a local S3 server (moto), free port
	$(BIN)/python scripts/with_s3.py $(BIN)/python -m pytest -q threads/tests/test_attachments.py

lint: install  ## ruff lint and format check, migrations, docs/openapi.yaml and docs/asyncapi.yaml up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file $(VENV)/openapi.yaml
	@diff -q $(VENV)/openapi.yaml docs/openapi.yaml >/dev/null || \
		{ echo "docs/openapi.yaml is out of date: run 'make schema' and commit it"; exit 1; }
	@DJANGO_DEBUG=1 $(BIN)/python manage.py asyncapi | diff -q - docs/asyncapi.yaml >/dev/null || \
		{ echo "docs/asyncapi.yaml is out of date: run 'make schema' and commit it"; exit 1; }

schema: install  ## Regenerate docs/openapi.yaml (the schema Postman users import) and docs/asyncapi.yaml
	DJANGO_DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml
	DJANGO_DEBUG=1 $(BIN)/python manage.py asyncapi --file docs/asyncapi.yaml

# The AsyncAPI parser, the validator the AsyncAPI CLI runs (tools/asyncapi/validate.js says
# why not the CLI itself), installed from its lockfile when that changes. No install
# scripts: the parser needs none, and one of its dependencies' would phone home.
ASYNCAPI_TOOLS := tools/asyncapi

$(ASYNCAPI_TOOLS)/node_modules/.installed: $(ASYNCAPI_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "asyncapi-validate needs Node.js and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	npm ci --prefix $(ASYNCAPI_TOOLS) --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

asyncapi-validate: $(ASYNCAPI_TOOLS)/node_modules/.installed  ## Validate docs/asyncapi.yaml (needs Node.js and npm)
	node $(ASYNCAPI_TOOLS)/validate.js docs/asyncapi.yaml

test-integrity: install  ## Concurrent clients against 4 server processes: nothing lost or duplicated
	$(BIN)/python scripts/integrity.py --database sqlite
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		$(BIN)/python scripts/integrity.py --database postgres; \
	else echo "PostgreSQL is not running on 127.0.0.1:5432: its integrity run is skipped"; fi

REDIS_UP = $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1)" 2>/dev/null

test-scaleout: install  ## Two servers sharing Redis: each other's WebSocket events, one rate limit
	@if $(REDIS_UP); then \
		REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} $(BIN)/python -m pytest -q threads/tests/test_realtime.py threads/tests/test_sync_sockets.py && \
		REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} $(BIN)/python -m pytest -q threads/tests/test_reactions.py -k sockets && \
		$(BIN)/python scripts/scaleout.py --database sqlite && \
		$(BIN)/python scripts/throttle_scaleout.py --database sqlite && \
		if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
			$(BIN)/python scripts/scaleout.py --database postgres && \
			$(BIN)/python scripts/throttle_scaleout.py --database postgres; fi; \
	else echo "Redis is not running on 127.0.0.1:6379: the scale-out run is skipped"; fi

test-faults: install  ## PostgreSQL restart, killed worker, Redis outage under load (own PG and Redis)
	$(BIN)/python scripts/faults.py

fuzz: install  ## Fuzz a live server with Schemathesis from docs/openapi.yaml
	scripts/fuzz.sh

bench: install  ## Benchmark: build the data sets (once) and measure each endpoint against its floor
	@command -v wrk >/dev/null || { echo "bench needs wrk (Debian: apt-get install wrk)"; exit 1; }
	test -f bench/data/sqlite.json || $(BIN)/python bench/generate.py --database sqlite
	$(BIN)/python bench/load.py --database sqlite
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		test -f bench/data/postgres.json || $(BIN)/python bench/generate.py --database postgres; \
		$(BIN)/python bench/load.py --database postgres; \
	else echo "PostgreSQL is not running on 127.0.0.1:5432: its benchmark is skipped"; fi

demo: migrate  ## Fill the database with demo data (DEMO_ARGS="--messages 1000000")
	DJANGO_DEBUG=1 $(BIN)/python manage.py seed_demo $(DEMO_ARGS)

format: install  ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Asks at the terminal; without one (a script, CI, a container), it takes the account from
# DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD (DJANGO_SUPERUSER_EMAIL optional).
superuser: migrate  ## Create an admin account for /admin/ (no terminal: see README)
	@if [ -n "$$DJANGO_SUPERUSER_USERNAME" ] && [ -n "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
		DJANGO_DEBUG=1 DJANGO_SUPERUSER_EMAIL="$${DJANGO_SUPERUSER_EMAIL:-}" \
			$(BIN)/python manage.py createsuperuser --noinput; \
	elif [ -t 0 ]; then \
		DJANGO_DEBUG=1 $(BIN)/python manage.py createsuperuser; \
	else \
		echo "No terminal to ask at: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD" >&2; \
		exit 1; \
	fi

clean:  ## Remove the virtualenv and caches (keeps db.sqlite3)
	rm -rf $(VENV) .pytest_cache .ruff_cache

bench-realtime: install  ## Benchmark: REST POST to the other participant's socket, in-memory layer and Redis
	$(BIN)/python bench/realtime.py --layer memory
	@if $(REDIS_UP); then $(BIN)/python bench/realtime.py --layer redis; \
	else echo "Redis is not running on 127.0.0.1:6379: its benchmark is skipped"; fi
