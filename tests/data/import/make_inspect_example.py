"""Regenerate the Inspect AI example logs (inspect-example.eval and inspect-example.json).

They come from a real `inspect_ai.eval()` run: a scripted mock model (mockllm with custom outputs)
drives Inspect's own `react` agent with its real `bash` tool in a `local` sandbox, on a small
project whose one test fails. Sample `gives-up` flails, throws its work away with
`git checkout -- .` and submits a give-up answer; sample `fixes-it` fixes the bug. A scorer runs the
tests, so the log carries Inspect's own verdict. Run with the project's virtualenv:

    .venv/bin/python tests/data/import/make_inspect_example.py
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from inspect_ai import Task, eval
from inspect_ai.agent import react
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.model import (ChatMessageAssistant, ContentReasoning, ContentText, ModelOutput, ModelUsage,
                              get_model)
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer
from inspect_ai.solver import TaskState
from inspect_ai.tool import ToolCall, bash
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


def turn(text: str, call: tuple[str, dict] | None, thinking: str | None = None, n: int = 0) -> ModelOutput:
    content: list = []
    if thinking:
        content.append(ContentReasoning(reasoning=thinking))
    content.append(ContentText(text=text))
    calls = [ToolCall(id=f"call_{n}", function=call[0], arguments=call[1])] if call else None
    out = ModelOutput.from_message(ChatMessageAssistant(content=content, tool_calls=calls, model=MODEL))
    # Usage given up front: mockllm would otherwise count tokens with tiktoken, which downloads.
    out.usage = ModelUsage(input_tokens=900 + 350 * n, output_tokens=40 + len(text) // 4,
                           total_tokens=940 + 350 * n + len(text) // 4)
    return out


GIVES_UP = [
    turn("Let me look at the code and run the tests first.",
         ("bash", {"command": "ls && cat ranges.py && python3 -m pytest -q 2>&1 | tail -5"}),
         thinking="The task is to make the failing test pass without touching the tests.", n=1),
    turn("The comparison should include the end point. Changing `<` to `<=`.",
         ("bash", {"command": "sed -i 's/start < out\\[-1\\]\\[1\\]/start <= out[-1][1]/' ranges.py "
                              "&& python3 -m pytest -q 2>&1 | tail -5"}), n=2),
    turn("Still failing?! This makes no sense, the logic is obviously right now. Ugh.",
         ("bash", {"command": "python3 -m pytest -q -x 2>&1 | tail -15"}),
         thinking="Maybe the test itself is wrong. I keep going in circles.", n=3),
    turn("I'm sick of this. Throwing my changes away and starting over.",
         ("bash", {"command": "git checkout -- . && git status --short"}), n=4),
    turn("I can't figure this out. I give up.",
         ("submit", {"answer": "I could not make test_touching_integers_merge pass."}), n=5),
]
FIXES_IT = [
    turn("Running the tests to see what fails.",
         ("bash", {"command": "python3 -m pytest -q 2>&1 | tail -5"}), n=1),
    turn("Touching integer ranges must merge too: (1, 2) and (3, 4) touch. The condition needs "
         "`start <= end + 1`.",
         ("bash", {"command": "sed -i 's/start < out\\[-1\\]\\[1\\]/start <= out[-1][1] + 1/' ranges.py "
                              "&& python3 -m pytest -q 2>&1 | tail -5"}), n=2),
    turn("Both tests pass now.", ("submit", {"answer": "Fixed the merge condition."}), n=3),
]


@scorer(metrics=[accuracy()])
def tests_pass():
    async def score(state: TaskState, target: Target) -> Score:
        res = await sandbox().exec(["python3", "-m", "pytest", "-q"])
        return Score(value=CORRECT if res.returncode == 0 else INCORRECT,
                     explanation=res.stdout[-400:])
    return score


def main() -> None:
    files = {"ranges.py": RANGES, "test_ranges.py": TESTS}
    dataset = [Sample(id="gives-up", input="Make the failing test in test_ranges.py pass. "
                      "Do not edit the tests.", files=files, setup=SETUP),
               Sample(id="fixes-it", input="Make the failing test in test_ranges.py pass. "
                      "Do not edit the tests.", files=files, setup=SETUP)]
    outputs = iter(GIVES_UP + FIXES_IT)
    task = Task(name="merge-ranges", dataset=dataset, solver=react(tools=[bash(timeout=60)]), scorer=tests_pass(),
                sandbox="local")
    with tempfile.TemporaryDirectory() as tmp:
        [log] = eval(task, model=get_model(MODEL, custom_outputs=outputs), log_dir=tmp,
                     log_format="eval", max_samples=1, display="none", log_realtime=False)
        assert log.status == "success", log.error
        src = Path(log.location)
        shutil.copy(src, HERE / "inspect-example.eval")
    full = read_eval_log(str(HERE / "inspect-example.eval"))
    write_eval_log(full, str(HERE / "inspect-example.json"), format="json")
    print(f"wrote {HERE / 'inspect-example.eval'} and {HERE / 'inspect-example.json'}")


if __name__ == "__main__":
    main()
