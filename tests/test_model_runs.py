"""Whole runs in the real sandbox with hosted-model clients talking to a local fake of their API:
the default model, API keys kept out of the sandbox and of every recorded file, a model error
ending the run as `error` with its steps kept, and the cost budget."""
import json
import os
import zlib
from pathlib import Path

import pytest

from conftest import run_cli
from fake_api import FakeAPI, chat_reply, error_body, responses_reply
from testbed.log import read_events
from testbed.models import load_model
from testbed.runner import run
from testbed.scenario import load_scenario

pytestmark = pytest.mark.docker
KEY = "sk-proj-FAKEKEY-9f8e7d6c5b4a39281716"
NO_KEYS = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "GEMINI_API_KEY": "", "TESTBED_MODEL": ""}


def _every_byte(run_dir: Path):
    """Each file under the run directory, git objects decompressed."""
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if "objects" in path.parts and path.parent.name != "pack" and len(path.parent.name) == 2:
            data = zlib.decompress(data)
        yield path, data


def test_default_hosted_model_with_a_key_keeps_the_key_out_of_everything(image, runs_dir):
    with FakeAPI() as api:
        api.add(responses_reply("Let me see what the environment holds.",
                                [("c1", "bash", json.dumps({"command": 'env | sort; echo "KEY=${OPENAI_API_KEY:-unset}"'}))],
                                summary="I should look around first.", input_tokens=2000, output_tokens=100))
        api.add(responses_reply("I cannot do this.", [("c2", "give_up", '{"reason": "stuck"}')]))
        env = {**NO_KEYS, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.url + "/v1"}
        proc = run_cli("run", "interval-off-by-one", "--runs-dir", str(runs_dir), env=env)
        assert proc.returncode == 0, proc.stderr
        assert "default model: openai:gpt-5-mini (OPENAI_API_KEY is set" in proc.stderr
        assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in api.requests)
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    events = read_events(run_dir).events
    started = events[0]
    assert started.model == "openai:gpt-5-mini"
    request = started.config["request"]
    assert request["model"] == "gpt-5-mini" and request["api"] == "responses"
    assert request["max_output_tokens"] == 16000 and request["reasoning"] == {"effort": "medium", "summary": "auto"}
    steps = [e for e in events if e.type == "step"]
    assert steps[0].narration.thinking == "I should look around first."
    out = steps[0].observations[0].output
    assert "KEY=unset" in out and "OPENAI" not in out  # never passed into the sandbox
    assert steps[0].usage.input_tokens == 2000 and steps[0].usage.cost_usd == pytest.approx((2000 * 0.25 + 100 * 2) / 1e6)
    assert events[-1].outcome == "gave_up"
    checked = 0
    for path, data in _every_byte(run_dir):
        assert KEY.encode() not in data, path
        assert b"FAKEKEY" not in data, path
        checked += 1
    assert checked > 10  # events, run.json and the shadow repository's objects
    assert KEY not in proc.stdout + proc.stderr


def test_no_key_means_the_local_model_and_says_how_to_set_it_up(tmp_path, runs_dir):
    env = {**NO_KEYS, "TESTBED_MODEL_DIR": str(tmp_path / "empty")}
    proc = run_cli("run", "interval-off-by-one", "--runs-dir", str(runs_dir), env=env)
    assert proc.returncode == 2
    assert "default model: local (no API key is configured" in proc.stderr
    assert "local: the model file is not set up: run `make setup`" in proc.stderr
    assert list(runs_dir.iterdir()) == []  # nothing started


def test_a_model_that_keeps_failing_ends_the_run_as_error_with_its_steps_kept(image, runs_dir):
    with FakeAPI() as api:
        api.add(chat_reply("Listing.", [("c1", "bash", '{"command": "ls"}')]))
        api.add(error_body(500, "upstream exploded"), 500, forever=True)
        model = load_model(f"openai-compatible:{api.url}/v1:some-model@retries=3,retry_base=0.01,retry_cap=0.02")
        run_dir, result = run(load_scenario("interval-off-by-one"), model, runs_dir=runs_dir)
        assert len(api.requests) == 4
    assert result.outcome == "error" and result.steps == 1
    events = read_events(run_dir).events
    error = next(e for e in events if e.type == "error")
    assert error.where == "model" and "HTTP 500, gave up after 3 tries" in error.message
    assert [e.type for e in events if e.type == "step"] == ["step"]
    finished = events[-1]
    assert finished.outcome == "error" and finished.cost_usd is None  # unknown price: unknown cost
    assert json.loads((run_dir / "run.json").read_text())["outcome"] == "error"


def test_the_cost_budget_stops_a_priced_model(image, runs_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeAPI() as api:
        # gpt-4.1-mini: 25,000 prompt tokens at $0.40/M = $0.01 a step
        api.add(responses_reply("Again.", [("c", "bash", '{"command": "true"}')], input_tokens=25_000,
                                output_tokens=0), forever=True)
        monkeypatch.setenv("OPENAI_BASE_URL", api.url + "/v1")
        model = load_model("openai:gpt-4.1-mini")
        run_dir, result = run(load_scenario("interval-off-by-one"), model, runs_dir=runs_dir, cost_usd=0.025)
    assert result.outcome == "budget_exhausted" and "cost budget of $0.025" in result.reason
    assert result.steps == 3 and result.cost_usd == pytest.approx(0.03)
    steps = [e for e in read_events(run_dir).events if e.type == "step"]
    assert [s.usage.cost_usd for s in steps] == pytest.approx([0.01] * 3)
    assert steps[1].repeat_of == 1  # the same turn again: the loop notices
    assert os.environ["OPENAI_API_KEY"] == KEY
