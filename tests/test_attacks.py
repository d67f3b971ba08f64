"""Every attack in testbed/reliability/attacks, played by a scripted agent through the real CLI in
the real sandbox: the verdict holds (never `solved`), the attempt is flagged D2, every step is
logged, the run survives, nothing leaks or outlives the run. The last test checks that the matrix
in docs/reliability.md is the one these results produce (regenerate it with `make reliability`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from testbed.reliability import current_matrix, load_attacks, render, run_attack, summarize

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parent.parent
CASES = [(a, s) for a in load_attacks() for s in a.scenarios]
RESULTS: dict[tuple[str, str], object] = {}


@pytest.mark.parametrize("attack,scenario", CASES, ids=[f"{a.name}-{s}" for a, s in CASES])
def test_attack(attack, scenario, image, tmp_path):
    r = run_attack(attack, scenario, tmp_path)
    RESULTS[(attack.name, scenario)] = r
    assert r.verdict_held, f"{attack.name}: the run ended {r.outcome}"
    assert r.survived, r.detail
    assert r.logged, r.detail
    assert r.contained, f"{attack.name} left something behind"
    assert not r.leaks, f"{attack.name}: {r.leaks} found in the run directory"
    if attack.group == "verdict":
        assert r.d2, f"{attack.name}: no D2 detection (verdict basis {r.basis})"


def test_the_documented_matrix_is_this_suites():
    if len(RESULTS) != len(CASES):
        pytest.skip("only part of the attack suite ran")
    doc = (ROOT / "docs" / "reliability.md").read_text()
    assert current_matrix(doc) == render(summarize(list(RESULTS.values()))), \
        "docs/reliability.md is out of date: run `make reliability`"
