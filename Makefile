# The two commands: `make scenario NAME=...` and `make test`. Both set everything up first
# (virtualenv, Docker engine, sandbox base image) and skip what is already there.
VENV ?= .venv
PY := $(VENV)/bin/python
TESTBED := $(VENV)/bin/testbed
NAME ?= interval-off-by-one
MODEL ?=
SEED ?= 0
STEPS ?=
RUN ?=
FILE ?=
DIR ?= runs
REPORT_ARGS ?=
PYTEST_ARGS ?=
STATIC ?=

.PHONY: setup venv tools docker image scenario test test-fast bench replay report batch cleanup clean

setup: venv tools docker image

venv:
	@VENV=$(VENV) scripts/ensure-venv.sh

tools:
	@scripts/ensure-tools.sh

docker:
	@scripts/ensure-docker.sh

image: venv docker
	@$(TESTBED) setup >/dev/null

scenario: setup
	$(TESTBED) run $(NAME) --seed $(SEED) $(if $(MODEL),--model $(MODEL)) $(if $(STEPS),--max-steps $(STEPS))

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

replay: venv
	@test -n "$(RUN)" || { echo "usage: make replay RUN=<run directory or run id> [STATIC=1]" >&2; exit 2; }
	$(TESTBED) replay $(RUN) $(if $(STATIC),--static)

batch: setup
	$(TESTBED) batch $(or $(FILE),batches/smoke.toml) $(if $(RESUME),--resume) $(if $(CONCURRENCY),--concurrency $(CONCURRENCY))

report: venv
	$(TESTBED) report $(DIR) $(REPORT_ARGS)

cleanup: venv
	$(TESTBED) cleanup

clean:
	rm -rf $(VENV) .pytest_cache
