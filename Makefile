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

.PHONY: setup venv docker image scenario test test-fast bench replay report batch cleanup clean

setup: venv docker image

venv:
	@VENV=$(VENV) scripts/ensure-venv.sh

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

report: venv
	$(TESTBED) report $(DIR) $(REPORT_ARGS)

cleanup: venv
	$(TESTBED) cleanup

clean:
	rm -rf $(VENV) .pytest_cache
