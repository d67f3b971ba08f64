"""Seed Python's `random` before every test, so that a failure can be repeated exactly."""
import os
import random

import pytest

SEED = int(os.environ.get("TESTBED_SEED") or random.SystemRandom().randrange(10**6))


def pytest_report_header(config):
    return f"random seed: {SEED} (repeat with TESTBED_SEED={SEED})"


@pytest.fixture(autouse=True)
def _seeded_random():
    random.seed(SEED)
    yield
