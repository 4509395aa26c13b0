# Thin wrappers; `make help` lists them. Every target that runs code first creates .venv and
# the generated stubs when they are missing, so any target works first on a fresh clone.
PY       := .venv/bin/python
VENV_OK  := .venv/.installed
STUBS_OK := libs/api/fleetjobs/v1/catalog_service_pb2.py
MEMBERS  := -e libs/api -e libs/core -e libs/cli -e libs/testing -e services/catalog -e services/scheduler \
            -e services/executor -e services/results -e deploy/local
PROTOS   := $(shell find protos -name '*.proto')

.PHONY: help venv gen run up stop test lint bench system-deps clean
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s '	'

$(VENV_OK): pyproject.toml $(wildcard */*/pyproject.toml)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade 'pip>=25.1'
	$(PY) -m pip install -q --group dev $(MEMBERS)
	touch $@

venv: $(VENV_OK)  ## create .venv with every workspace member and the dev tools

$(STUBS_OK): $(VENV_OK) $(PROTOS) scripts/gen_protos.py
	$(PY) scripts/gen_protos.py

gen: $(VENV_OK)  ## regenerate libs/api from protos/
	$(PY) scripts/gen_protos.py

run: $(STUBS_OK)  ## the main job: start the suite, run a job across 50+ databases, show the result
	$(PY) -m fleetjobs.launcher demo

up: $(STUBS_OK)  ## migrate, then start NATS and the four services in the background
	$(PY) -m fleetjobs.launcher up

stop: $(STUBS_OK)  ## stop everything `make up` started
	$(PY) -m fleetjobs.launcher stop

system-deps:  ## Debian packages the odbc connector tests need (unixODBC, psqlODBC, MariaDB ODBC)
	scripts/install_system_deps.sh

test: $(STUBS_OK) system-deps  ## the whole test suite (CI=true turns absent servers into failures)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STUBS_OK)  ## ruff, mypy, buf lint, and no reference to a document the repository lacks
	$(PY) scripts/check_doc_refs.py
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy libs/core/fleetjobs libs/cli/fleetjobs libs/testing/fleetjobs services/*/fleetjobs deploy/local/fleetjobs
	.venv/bin/mypy --strict scripts/check_doc_refs.py
	cd protos && npx --yes @bufbuild/buf lint

bench: $(STUBS_OK)  ## fleetjobs against a direct baseline on 200 PostgreSQL databases
	$(PY) tests/bench/run_bench.py

clean:  ## remove the venv, generated stubs and local state
	rm -rf .venv .fleetjobs libs/api/fleetjobs/v1 libs/api/fleetjobs/events libs/api/fleetjobs/internal
