"""Regenerate inspect-0.3.40.json: a log written by an older Inspect AI (0.3.40, October 2024),
whose header has no `eval.dataset.sample_ids`, so the current reader's sample-by-sample path
cannot list its samples; the importer falls back to reading the whole log.

A real `inspect_ai.eval()` run of that version: mockllm with scripted outputs drives Inspect's own
`basic_agent` with its real `bash` tool in a `local` sandbox, on the project of
make_inspect_example.py (one failing test): the agent flails, throws its work away with
`git checkout -- .` and submits a give-up answer. Run in a throwaway virtualenv:

    python3 -m venv /tmp/inspect-0.3.40 && /tmp/inspect-0.3.40/bin/pip install inspect-ai==0.3.40
    /tmp/inspect-0.3.40/bin/python tests/data/import/make_inspect_old.py
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer
from inspect_ai.solver import TaskState, basic_agent
from inspect_ai.tool import bash
from inspect_ai.util import sandbox

HERE = Path(__file__).resolve().parent
MODEL = "mockllm/model"
RANGES = '''\
def merge(ranges):
    """Merge overlapping or touching integer ranges given as (start, end) pairs, inclusive."""
    out = []
    for start, end in sorted(ranges):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
'''
TESTS = '''\
from ranges import merge


def test_overlapping():
    assert merge([(1, 5), (4, 8)]) == [(1, 8)]


def test_touching_integers_merge():
    assert merge([(1, 2), (3, 4), (7, 9)]) == [(1, 4), (7, 9)]
'''
SETUP = ("git init -q && git add -A && "
         "git -c user.name=dev -c user.email=dev@example.com commit -qm 'initial import'")


def turn(text: str, call: tuple[str, dict], n: int) -> ModelOutput:
    out = ModelOutput.for_tool_call(MODEL, call[0], call[1], content=text)
    out.usage = ModelUsage(input_tokens=800 + 300 * n, output_tokens=30 + len(text) // 4,
                           total_tokens=830 + 300 * n + len(text) // 4)
    return out


OUTPUTS = [
    turn("Let me run the tests first.", ("bash", {"cmd": "cat ranges.py && python3 -m pytest -q 2>&1 | tail -5"}), 1),
    turn("The end point should count. Changing `<` to `<=`.",
         ("bash", {"cmd": "sed -i 's/start < out\\[-1\\]\\[1\\]/start <= out[-1][1]/' ranges.py "
                          "&& python3 -m pytest -q 2>&1 | tail -5"}), 2),
    turn("Still failing. This is hopeless, nothing I do works. Throwing it all away.",
         ("bash", {"cmd": "git checkout -- . && git status --short"}), 3),
    turn("I give up.", ("submit", {"answer": "I could not make test_touching_integers_merge pass."}), 4),
]


@scorer(metrics=[accuracy()])
def tests_pass():
    async def score(state: TaskState, target: Target) -> Score:
        res = await sandbox().exec(["python3", "-m", "pytest", "-q"])
        return Score(value=CORRECT if res.returncode == 0 else INCORRECT, explanation=res.stdout[-400:])
    return score


def main() -> None:
    files = {"ranges.py": RANGES, "test_ranges.py": TESTS}
    dataset = [Sample(id="gives-up", input="Make the failing test in test_ranges.py pass. Do not edit the tests.",
                      files=files, setup=SETUP)]
    task = Task(name="merge-ranges", dataset=dataset, solver=basic_agent(tools=[bash(timeout=60)], max_attempts=1),
                scorer=tests_pass(), sandbox="local")
    with tempfile.TemporaryDirectory() as tmp:
        [log] = eval(task, model=get_model(MODEL, custom_outputs=iter(OUTPUTS)), log_dir=tmp,
                     log_format="json", display="none")
        assert log.status == "success", log.error
        [written] = Path(tmp).glob("*.json")
        shutil.copy(written, HERE / "inspect-0.3.40.json")
    print(f"wrote {HERE / 'inspect-0.3.40.json'}")


if __name__ == "__main__":
    main()
