#!/bin/sh
# CI entry point. Each CI job gets its own hash seed (from the job's seed when the runner sets
# one), so that code relying on set or dict-of-set ordering cannot hide behind one lucky seed.
PYTHONHASHSEED="${TESTBED_SEED:-random}" exec python3 -m pytest -q tests "$@"
