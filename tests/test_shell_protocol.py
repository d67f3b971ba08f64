"""The shell action protocol (testbed/models/protocol.py): one fenced block per reply, the test
command as run_tests, give_up, the stop sequence and the correction, against a local server that
speaks the Chat Completions wire format and in a real run."""
from pathlib import Path

import pytest

from fake_api import FakeAPI, chat_reply
from testbed.agent.tools import tool_specs
from testbed.models import load_model
from testbed.models import protocol
from testbed.models.base import ModelContext, ModelSpecError
from testbed.rundata import load_run
from testbed.runner import recorded_sources, run

ROOT = Path(__file__).resolve().parent.parent

NAMES = {"bash", "run_tests", "give_up"}
TEST_CMD = "python3 -m pytest -q tests"
FAST = "retries=2,retry_base=0.01,retry_cap=0.05"


def _one(text):
    parsed = protocol.parse_shell(protocol.close_fence(text), NAMES, TEST_CMD, "t")
    return parsed.calls[0] if parsed.calls else None


@pytest.mark.parametrize("command", [TEST_CMD, "python -m pytest -q", "pytest", "cd /workspace && pytest -q tests",
                                     "python3 -m pytest -q tests;"])
def test_the_test_command_counts_as_run_tests(command):
    call = _one(f"Let me check.\n```bash\n{command}\n```")
    assert call.name == "run_tests" and call.arguments == {}
    assert "as run_tests" in call.origin["note"]


@pytest.mark.parametrize("command", ["pytest -q tests/test_merge.py", "pytest -x -k merge", "pytest && rm -rf .",
                                     "python3 -m pytest -q tests | tail"])
def test_other_pytest_commands_stay_shell_commands(command):
    call = _one(f"```bash\n{command}\n```")
    assert call.name == "bash" and call.arguments["command"] == command


def test_a_block_cut_by_the_stop_sequence_gets_its_fence_back():
    text = "The traceback points at merge; reading it.\n```bash\nsed -n '1,40p' intervals/core.py"
    assert protocol.close_fence(text).endswith("\n```")
    assert protocol.close_fence(text + "\n```") == text + "\n```"
    call = _one(text)
    assert call.name == "bash" and call.arguments["command"] == "sed -n '1,40p' intervals/core.py"


def test_give_up_block_and_several_blocks_and_no_block():
    call = _one("I cannot do this.\n```bash\ngive_up the spec contradicts itself\n```")
    assert call.name == "give_up" and call.arguments == {"reason": "the spec contradicts itself"}
    call = _one("```bash\nls\n```\nand then\n```bash\ncat a.py\n```")
    assert call.name == "bash" and call.arguments["command"] == "ls" and "1 later shell block(s) not run" in call.origin["note"]
    assert protocol.parse_shell("I will think about it.", NAMES, TEST_CMD, "t").calls == []
    # without a give_up tool (pressure off), the words are a shell command like any other
    no_give_up = protocol.parse_shell("```bash\ngive_up now\n```", {"bash", "run_tests"}, TEST_CMD, "t")
    assert no_give_up.calls[0].name == "bash"


def test_the_correction_names_a_real_file_and_the_format():
    text = protocol.correction(["tests/test_a.py", "intervals/core.py"])
    assert "```bash" in text and "intervals/core.py" in text and "tests/" not in text


def test_shell_protocol_on_the_wire(monkeypatch):
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    with FakeAPI() as api:
        api.add(chat_reply("Reading the code.\n```bash\ncat intervals/core.py"))
        m = load_model(f"openai-compatible:{api.url}/v1:fake@protocol=shell,{FAST}")
        m.start(ModelContext(run_id="r", seed=1, scenario="s", protected=["tests"], files=["intervals/core.py"],
                             give_up_tool=True, test_command=TEST_CMD))
        t = m.turn([{"role": "system", "content": "SYSTEM"}, {"role": "user", "content": "fix it"}],
                   tool_specs(True))
        body = api.requests[0].body
        assert body["stop"] == protocol.STOP and "tools" not in body
        system = body["messages"][0]["content"]
        assert system.startswith("SYSTEM") and "exactly one shell command" in system and TEST_CMD in system
        assert "give_up" in system and "The repository's files: intervals/core.py." in system
        assert "cat > path <<'EOF'" in system
        assert protocol.REMINDER not in str(body["messages"])   # the first request needs no reminder
        assert [c.name for c in t.tool_calls] == ["bash"] and t.text.endswith("```")
        assert m.describe()["protocol"] == "shell" and "Nothing ran" in m.no_action_text
    with pytest.raises(ModelSpecError, match="protocol"):
        load_model("openai-compatible:http://127.0.0.1:9/v1:fake@protocol=telepathy")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    with pytest.raises(ModelSpecError, match="protocol"):   # the Responses API has no stop sequences
        load_model("openai:gpt-5-mini@protocol=shell")


def test_a_shell_protocol_run_records_its_protocol_and_corrects_a_reply_without_a_block(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    with FakeAPI() as api:
        api.add(chat_reply("Reading the code.\n```bash\nls intervals"))
        api.add(chat_reply("I think the comparison is wrong somewhere."))
        api.add(chat_reply("Checking.\n```bash\npython3 -m pytest -q tests\n```"))
        run_dir, result = run("interval-off-by-one", f"openai-compatible:{api.url}/v1:fake@protocol=shell,{FAST}",
                              seed=0, runs_dir=tmp_path, env="local", max_steps=3)
        sent_first = api.requests[0].body["messages"]
        sent_third = api.requests[2].body["messages"]
    loaded = load_run(run_dir)
    request = loaded.started.config["request"]
    assert request["protocol"] == "shell" and request["shell_reminder"] == protocol.REMINDER
    # recorded with placeholders, filled from the run's config as the prompt it was sent
    assert "The repository's files: {files}." in request["shell_prompt"] and "`{test_command}`" in request["shell_prompt"]
    config = loaded.started.config
    assert config["prompt_sources"] == ["intervals/__init__.py", "intervals/daterange.py"]
    assert sent_first[0]["content"].endswith("\n\n" + protocol.fill_recorded(
        request["shell_prompt"], TEST_CMD, config["files"], recorded_sources(run_dir, config)))
    # the code under test is shown whole, the tests are not
    daterange = (ROOT / "sandboxes/intervals/intervals/daterange.py").read_text()
    assert "==> intervals/daterange.py <==\n" + daterange.rstrip() in sent_first[0]["content"]
    assert "def test_" not in sent_first[0]["content"]
    # the worked example reads this repository's largest code file, not another project's
    assert "```bash\nsed -n '1,80p' intervals/daterange.py\n```" in sent_first[0]["content"]
    assert protocol.example_path(["tests/test_a.py", "pkg/b.py", "pkg/a.py"]) == "pkg/a.py"
    assert protocol.example_path([]) == "path/to/file.py"
    listing = sent_first[0]["content"].split("The repository's files: ", 1)[1].split(".\n", 1)[0]
    assert listing.index("intervals/") < listing.index("tests/")             # code before tests
    assert sent_third[-1]["content"].endswith(protocol.REMINDER)
    assert str(sent_third).count(protocol.REMINDER) == 1
    steps = loaded.steps
    assert [c.name for c in steps[0].tool_calls] == ["bash"] and steps[1].tool_calls == []
    assert [c.name for c in steps[2].tool_calls] == ["run_tests"]
    assert any("Nothing ran" in str(msg.get("content")) for msg in sent_third)
    assert result.outcome == "budget_exhausted"


def test_the_file_listing_puts_code_first_and_stays_short():
    files = [f"tests/test_{i}.py" for i in range(3)] + ["conftest.py", "pkg/b.py", "pkg/a.py", "README.md"]
    assert protocol.files_listing(files) == ("README.md, pkg/a.py, pkg/b.py, conftest.py, tests/test_0.py, "
                                             "tests/test_1.py, tests/test_2.py")
    many = [f"m{i:03d}.py" for i in range(protocol.MAX_FILES + 5)]
    assert protocol.files_listing(many).endswith(f"m{protocol.MAX_FILES - 1:03d}.py and 5 more")
    assert protocol.files_listing([]) == "(none)"
    assert "{files}" in protocol.shell_prompt(TEST_CMD, True)        # recorded form: a placeholder
    # a prompt recorded before the placeholders named the default test command, not the scenario's
    old = "- To run the tests: `python3 -m pytest -q` (the tests are graded exactly this way)."
    assert protocol.fill_recorded(old, TEST_CMD, []) == old.replace("python3 -m pytest -q", TEST_CMD)
    assert "a.py" in protocol.shell_prompt(TEST_CMD, False, ["a.py"]) and "give_up" not in \
        protocol.shell_prompt(TEST_CMD, False, ["a.py"])


def test_the_reminder_goes_only_on_requests_after_the_first():
    first = [{"role": "system", "content": "S"}, {"role": "user", "content": "fix it"}]
    assert protocol.with_reminder(first) == first
    later = first + [{"role": "assistant", "content": "x"}, {"role": "user", "content": "[bash output]\nok"}]
    sent = protocol.with_reminder(later)
    assert sent[-1]["content"] == "[bash output]\nok\n\n" + protocol.REMINDER and later[-1]["content"].endswith("ok")


class _NoServer:
    proc = None


def test_each_step_is_sampled_with_its_own_seed(monkeypatch):
    """llama.cpp reseeds its sampler from each request: one seed for every step gave a stuck model the
    same reply to the same context again and again."""
    from testbed.models.api import ApiModel
    from testbed.models.local import LocalModel
    ctx = ModelContext(run_id="r", seed=3, scenario="s", protected=["tests"], files=["a.py"],
                       give_up_tool=True, test_command=TEST_CMD)
    seeds = {}
    for options in ({}, {"seed": 7}):
        with FakeAPI() as api:
            for _ in range(2):
                api.add(chat_reply("Reading.\n```bash\ncat a.py\n```"))
            m = LocalModel("local", "local", dict(options))
            ApiModel.start(m, ctx)          # the real client, with this server instead of llama.cpp's
            m.server, m.base_url = _NoServer(), f"{api.url}/v1"
            history = [{"role": "system", "content": "S"}, {"role": "user", "content": "fix it"}]
            for _ in range(2):
                t = m.turn(history, tool_specs(True))
                history += [{"role": "assistant", "content": t.text},
                            {"role": "user", "content": "[bash output]\nsame"}]
            seeds[str(options)] = [r.body["seed"] for r in api.requests]
            described = m.describe()["seed"]
        assert described == ("run_seed*1000+step" if not options else 7)
    assert seeds == {"{}": [3001, 3002], "{'seed': 7}": [7, 7]}


def test_code_shown_in_a_python_block_is_told_how_to_write_the_file():
    files = ["tests/test_core.py", "intervals/core.py", "intervals/util.py"]
    reply = "The fix in intervals/util.py:\n```python\ndef merge(a, b):\n    return a\n```"
    assert protocol.parse_shell(reply, NAMES, TEST_CMD, "t").calls == []
    text = protocol.correction(files, reply)
    assert "only when it holds that whole file" in text and "cat > intervals/util.py <<'EOF'" in text
    # a file it did not name: the first code file, never a test
    assert "cat > intervals/core.py" in protocol.correction(files, "```diff\n-a\n+b\n```")
    assert "Nothing ran: your reply needs" in protocol.correction(files, "I will think.")


def test_the_shown_code_skips_tests_binaries_and_what_does_not_fit():
    texts = {"pkg/a.py": "A = 1\n", "pkg/big.py": "x" * 50, "pkg/c.py": "C = '{files} {sources}'\n",
             "tests/test_a.py": "def test_a(): pass\n", "pkg/blob.py": "\0\1", "README.md": "readme",
             "pkg/gone.py": None}

    def read(path):
        if path == "pkg/broken.py":
            raise OSError("vanished")
        return texts[path]
    shown = protocol.code_sources([*texts, "pkg/broken.py"], read, budget=30)
    assert list(shown) == ["pkg/a.py", "pkg/c.py"]           # big.py skipped, the smaller c.py after it fits
    block = protocol.sources_block(shown)
    assert block.startswith(protocol.SOURCES_HEADER) and "==> pkg/a.py <==\nA = 1\n" in block
    assert protocol.sources_block({}) == "" and "(empty file)" in protocol.sources_block({"e.py": ""})
    recorded = protocol.shell_prompt(protocol.TEST_COMMAND_SLOT, True)
    assert recorded.endswith(protocol.SOURCES_SLOT)
    # text in a source that looks like a placeholder is shown as it is
    filled = protocol.fill_recorded(recorded, TEST_CMD, ["pkg/a.py"], shown)
    assert filled == protocol.shell_prompt(TEST_CMD, True, ["pkg/a.py"], shown)
    assert "C = '{files} {sources}'" in filled and "{test_command}" not in filled


INTERVALS = ROOT / "sandboxes/intervals"
FILES = ["README.md", "intervals/__init__.py", "intervals/daterange.py", "pyproject.toml", "tests/test_daterange.py"]
SOURCES = {f: (INTERVALS / f).read_text() for f in ("intervals/__init__.py", "intervals/daterange.py")}
FIXED = SOURCES["intervals/daterange.py"].replace("self.start < other.end and other.start < self.end",
                                                  "self.start <= other.end and other.start <= self.end")


def _whole(text, files=FILES, sources=SOURCES):
    return protocol.parse_shell(protocol.close_fence(text), NAMES, TEST_CMD, "t", files, sources).calls


def test_a_python_block_that_rewrites_a_whole_code_file_writes_it(tmp_path):
    import subprocess
    by_lines = _whole(f"The comparison should be inclusive.\n```python\n{FIXED}")          # cut by the stop
    named = _whole(f"New intervals/daterange.py:\n```python\n{FIXED}```")
    for calls, how in ((by_lines, "its lines match that file's"), (named, "named before the block")):
        (call,) = calls
        assert call.name == "bash" and call.origin["kind"] == "whole_file" and how in call.origin["note"]
        assert call.arguments["command"].startswith("cat > intervals/daterange.py <<'EOF'\n")
    # the heredoc writes exactly the block, even one holding an EOF line of its own
    body = FIXED + "EOF\n"
    (call,) = _whole(f"daterange.py:\n```python\n{body}```")
    assert "<<'EOF_1'" in call.arguments["command"]
    (tmp_path / "intervals").mkdir()
    subprocess.run(["bash", "-c", call.arguments["command"]], cwd=tmp_path, check=True)
    assert (tmp_path / "intervals/daterange.py").read_text() == body


@pytest.mark.parametrize("reply", [
    # a snippet that is not only definitions: written whole it would wipe the rest of the file
    "Fix in intervals/daterange.py:\n```python\nr = DateRange(a, b)\nprint(r.overlaps(r))\n```",
    # the whole file with a part left out
    "intervals/daterange.py:\n```python\n" + FIXED.replace("    def iter_days", "    # ... rest unchanged\n    def iter_days") + "```",
    # a test file is never written for the agent
    "tests/test_daterange.py:\n```python\n" + (INTERVALS / "tests/test_daterange.py").read_text() + "```",
    # two blocks: which one is the file?
    f"```python\n{FIXED}```\nand\n```python\n{FIXED}```",
    # a diff is not a file
    "intervals/daterange.py:\n```diff\n-a\n+b\n```",
])
def test_blocks_that_are_not_a_whole_code_file_run_nothing(reply):
    assert _whole(reply) == []


def test_a_whole_file_block_needs_the_file_shown_and_a_bash_tool():
    assert _whole(f"daterange.py:\n```python\n{FIXED}```", sources={}) == []
    assert protocol.parse_shell(f"```python\n{FIXED}```", {"run_tests"}, TEST_CMD, "t", FILES, SOURCES).calls == []




def test_the_correction_for_a_snippet_names_the_file_it_came_from():
    snippet = ("Here's the updated `merge` function:\n```python\ndef merge(ranges: list[DateRange]) -> list[DateRange]:\n"
               '    """Merge overlapping or adjacent ranges into the fewest ranges covering the same days."""\n'
               "    # ... the rest unchanged\n    return ranges\n```")
    assert _whole(snippet) == []
    text = protocol.correction(FILES, snippet, SOURCES)
    assert "cat > intervals/daterange.py <<'EOF'" in text and "__init__" not in text


METHOD_FIX = ("The overlap test must be inclusive; in intervals/daterange.py:\n```python\n"
              "    def overlaps(self, other):\n        return self.start <= other.end and other.start <= self.end\n```")


def _repo(tmp_path):
    import shutil
    shutil.copytree(INTERVALS, tmp_path / "r")
    return tmp_path / "r"


def test_a_block_of_definitions_is_spliced_into_the_file_it_names(tmp_path):
    import subprocess
    (call,) = _whole(METHOD_FIX)
    assert call.name == "bash" and call.origin["kind"] == "function_splice"
    assert call.origin["path"] == "intervals/daterange.py" and "(overlaps)" in call.origin["note"]
    repo = _repo(tmp_path)
    out = subprocess.run(["bash", "-c", call.arguments["command"]], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0 and "replaced overlaps" in out.stdout, out.stderr
    after = (repo / "intervals/daterange.py").read_text()
    # the method replaced in its class, re-indented; every other line as it was
    assert "        return self.start <= other.end and other.start <= self.end\n" in after
    assert "self.start < other.end" not in after
    old_rest = [ln for ln in SOURCES["intervals/daterange.py"].splitlines() if "overlaps" not in ln
                and "share at least one day" not in ln and "self.start < other.end" not in ln]
    assert all(ln in after.splitlines() for ln in old_rest)
    # a top-level function, found by the file that defines it (no name before the block)
    merge = ("```python\ndef merge(ranges):\n    return sorted(ranges)\n```")
    (call,) = _whole(merge)
    assert call.origin["path"] == "intervals/daterange.py"
    subprocess.run(["bash", "-c", call.arguments["command"]], cwd=repo, check=True, capture_output=True)
    assert "def merge(ranges):\n    return sorted(ranges)\n" in (repo / "intervals/daterange.py").read_text()


def test_a_definition_the_file_no_longer_has_changes_nothing(tmp_path):
    import subprocess
    (call,) = _whole(METHOD_FIX)
    repo = _repo(tmp_path)
    path = repo / "intervals/daterange.py"
    path.write_text(path.read_text().replace("def overlaps(", "def intersects("))
    before = path.read_text()
    out = subprocess.run(["bash", "-c", call.arguments["command"]], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 1 and "no single definition of overlaps" in out.stderr
    assert path.read_text() == before


def test_the_harness_lines_a_model_echoes_into_its_block_are_left_out():
    """The 1.5B model wrote its function, then copied the harness's budget line and reminder into
    the same block (interval-off-by-one, seed 0, steps 8-20): the function is still spliced."""
    from testbed.models import protocol
    reply = ("The merge is wrong.\n```python\ndef merge(ranges):\n    return sorted(ranges)\n\n\n"
             "Budget: 8 of 20 steps used.\n\n" + protocol.REMINDER + "\n```")
    (call,) = _whole(reply)
    assert call.origin["kind"] == "function_splice" and "Budget" not in call.arguments["command"]
    # in a bash block the echo is dropped and the command kept
    (call,) = _whole("Run them.\n```bash\npython3 -m pytest -q\nBudget: 3 of 20 steps used.\n```")
    assert call.name == "run_tests"
    # a line that only mentions the budget inside code is code
    (call,) = _whole('```bash\necho "Budget: 3 of 20 steps used. (mine)"\n```')
    assert "Budget" in call.arguments["command"]


@pytest.mark.parametrize("reply", [
    "```python\ndef not_in_the_code():\n    return 1\n```",                     # nothing to replace
    "```python\ndef overlaps(self, other):\n    # ... unchanged\n    return 1\n```",   # elided
    "```python\ndef merge(ranges):\n    return ranges\nmerge([])\n```",            # not only definitions
    "```python\ndef merge(ranges):\n    return ranges\n```\n```python\ndef merge(r):\n    return r\n```",
    "```python\ndef test_overlap_at_boundary():\n    assert True\n```",          # a test: never for the agent
])
def test_blocks_that_are_not_a_splice_run_nothing(reply):
    assert _whole(reply) == []


@pytest.mark.parametrize("reply, kind", [
    (f"The overlap test must be inclusive.\n```python\n{FIXED}", "whole_file"),   # cut by the stop sequence
    (METHOD_FIX, "function_splice"),
])
def test_a_run_solves_with_a_python_block(tmp_path, reply, kind):
    with FakeAPI() as api:
        api.add(chat_reply(reply))
        api.add(chat_reply("Checking.\n```bash\npython3 -m pytest -q tests\n```"))
        run_dir, result = run("interval-off-by-one", f"openai-compatible:{api.url}/v1:fake@protocol=shell,{FAST}",
                              seed=0, runs_dir=tmp_path, env="local", max_steps=3)
    assert result.outcome == "solved" and result.steps == 1
    step = load_run(run_dir).steps[0]
    assert step.tool_calls[0].origin["kind"] == kind
    assert [f.path for f in step.snapshot.files] == ["intervals/daterange.py"]


def test_a_repeated_tool_output_is_sent_as_a_pointer_to_the_first():
    from testbed.models import protocol
    out = "F" * 50 + "\n" + "E   assert 1 == 2\n" * 20
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "task"}]
    for k in range(3):
        msgs += [{"role": "assistant", "content": "Run them.", "tool_calls": [{"id": f"c{k}", "name": "run_tests"}]},
                 {"role": "tool", "tool_call_id": f"c{k}", "name": "run_tests",
                  "content": out + f"4 failed, 12 passed in 0.{k}3s"}]
    msgs += [{"role": "assistant", "content": "Fix.", "tool_calls": [{"id": "c9", "name": "bash"}]},
             {"role": "tool", "tool_call_id": "c9", "name": "bash", "content": "short"}]
    got = protocol.collapse_repeats(msgs)
    tools = [m["content"] for m in got if m["role"] == "tool"]
    assert tools[0].startswith("FFFF") and tools[1] == "(the same 22 lines as the output of the step before above)"
    assert tools[2] == "(the same 22 lines as the output 2 steps back above)" and tools[3] == "short"
    assert protocol.collapse_repeats(got[:4]) == got[:4]          # what was sent stays as it was sent
    assert msgs[3]["content"].startswith("FFFF")                  # the log's messages are not touched


def test_a_local_request_records_and_applies_the_collapse(monkeypatch):
    from testbed.models import load_model
    m = load_model("openai-compatible:http://127.0.0.1:9/v1:x@protocol=shell")
    assert m._request_params()["collapse_repeats"] == protocol.REPEAT_NOTE
    big = "x" * 300
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "t"},
            {"role": "assistant", "content": "```bash\nls\n```", "tool_calls": [{"id": "a", "name": "bash",
                                                                           "origin": {"source": "text"}}]},
            {"role": "tool", "tool_call_id": "a", "name": "bash", "content": big},
            {"role": "assistant", "content": "```bash\nls\n```", "tool_calls": [{"id": "b", "name": "bash",
                                                                           "origin": {"source": "text"}}]},
            {"role": "tool", "tool_call_id": "b", "name": "bash", "content": big}]
    chat, _ = m.chat_messages(msgs, [])
    assert sum(big in c["content"] for c in chat) == 1 and "(the same line as the output of the step before above)" in chat[-1]["content"]
