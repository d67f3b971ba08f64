"""Writes tests/data/import/claude-code-stream-json/: what the real Claude Code CLI 2.1.332 prints with
`claude -p … --output-format stream-json --verbose` (stream.jsonl), and the session file it keeps for
the same run (session.jsonl, ~/.claude/projects/…), talking to a local server on 127.0.0.1 that
speaks the streamed Messages API and answers from the script below (tests/fake_api.py). Claude Code
runs the tools itself (Bash, Read, Edit), so results, errors and its bookkeeping are its own.

Generated with the CLI bundled in the PyPI wheel claude-agent-sdk==0.2.189 (unzipped:
claude_agent_sdk/_bundled/claude):
TESTBED_TESTS=tests python tests/data/import/make_claude_stream_json.py CLAUDE tests/data/import/claude-code-stream-json
(and with a third argument `subagent`: stream-subagent.jsonl, a run whose agent hands the test run
to a sub-agent through the Task tool, so the stream carries the sub-agent's lines inline)
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.environ.get("TESTBED_TESTS", "tests"))
sys.path.insert(0, str(Path(__file__).parent))
from fake_api import Answer, FakeAPI, anthropic_reply, anthropic_sse  # noqa: E402
import cli_workspace as W  # noqa: E402

WS: Path = Path()
MAIN_TURNS = [0]
REQUESTS = [0]
SUB_PROMPT = "Run the unit tests with `python3 -m unittest -q` and report which tests fail."


def script_subagent(results: int, sub: bool):
    """The replies of the Task variant: the main agent delegates, its sub-agent runs the tests."""
    if sub:
        if results == 0:
            return anthropic_reply("Running the tests.", tool_uses=[
                ("toolu_sub_tests", "Bash", {"command": "python3 -m unittest -q", "description": "Run the tests"})])
        return anthropic_reply("test_minutes_in_milliseconds fails: 120 != 120000.")
    MAIN_TURNS[0] += 1
    if MAIN_TURNS[0] == 1:
        return anthropic_reply("I'll have a sub-agent run the tests first.", tool_uses=[
            ("toolu_task", "Task", {"description": "Run the tests", "prompt": SUB_PROMPT,
                                    "subagent_type": "general-purpose"})])
    if MAIN_TURNS[0] == 2:  # Claude Code runs the sub-agent in the background and asks again
        return anthropic_reply("Waiting for the sub-agent's report.")
    return anthropic_reply("The sub-agent reports that test_minutes_in_milliseconds fails; the two tests "
                           "disagree on the unit, so I am stopping here.")


def script(results: int):
    """The main agent's reply after `results` tool results."""
    if results == 0:
        return anthropic_reply("I'll run the tests and check the history.", tool_uses=[
            ("toolu_tests1", "Bash", {"command": W.RUN_TESTS, "description": "Run the tests"}),
            ("toolu_log", "Bash", {"command": "git log --oneline | head -n 5", "description": "Recent commits"})])
    if results == 2:
        return anthropic_reply(None, thinking="The failure is in parse_duration; read it.",
                               tool_uses=[("toolu_read", "Read", {"file_path": str(WS / "duration.py")})])
    if results == 3:
        return anthropic_reply("parse_duration returns seconds; the failing test wants milliseconds.", tool_uses=[
            ("toolu_edit", "Edit", {"file_path": str(WS / "duration.py"), "old_string": W.EDIT_OLD,
                                    "new_string": W.EDIT_NEW})])
    if results == 4:
        return anthropic_reply("Running the tests again.", tool_uses=[
            ("toolu_tests2", "Bash", {"command": "python3 -m unittest -q", "description": "Run the tests"})])
    if results == 5:
        return anthropic_reply("Still failing, and now the other test breaks. The two tests want different units "
                               "for the same input; this is maddening. Reverting everything.", tool_uses=[
            ("toolu_revert", "Bash", {"command": "git checkout -- . && git status --short",
                                      "description": "Revert all changes"})])
    if results == 6:
        return anthropic_reply("I give up: test_minutes_in_seconds expects 120 and test_minutes_in_milliseconds "
                               "expects 120000 for the same input, so no implementation passes both. "
                               "I reverted my change.")
    return None


MODE = "plain"


def _first_user_text(body: dict) -> str:
    for m in body.get("messages", []):
        content = m.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        return " ".join(str(b.get("text") or "") for b in blocks if isinstance(b, dict))
    return ""


def route(request):
    body = request.body if isinstance(request.body, dict) else {}
    if request.path.startswith("/v1/messages/count_tokens"):
        return Answer({"input_tokens": 120})
    if not request.path.startswith("/v1/messages"):
        return None
    tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    if "Bash" in tools:
        results = sum(1 for m in body.get("messages", []) if isinstance(m.get("content"), list)
                      for b in m["content"] if isinstance(b, dict) and b.get("type") == "tool_result")
        sub = SUB_PROMPT in _first_user_text(body)
        reply = script_subagent(results, sub) if MODE == "subagent" else script(results)
        if reply is not None:
            REQUESTS[0] += 1
            reply["id"] = f"msg_{REQUESTS[0]:02d}"  # the API gives each response its own id
    else:  # Claude Code's side requests (a title for the session, …)
        reply = anthropic_reply('{"title": "Duration units"}')
        reply["id"] = "msg_side"
    if reply is None:
        return None
    return anthropic_sse(reply) if body.get("stream") else Answer(reply)


def main(claude: str, out_dir: Path, mode: str = "plain") -> None:
    global WS, MODE
    MODE = mode
    tmp = Path(tempfile.mkdtemp(prefix="ccgen-"))
    WS = W.make(tmp / "duration-units")
    with FakeAPI(router=route) as api:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "ANTHROPIC_BASE_URL": api.url,
               "ANTHROPIC_API_KEY": "not-a-key", "IS_SANDBOX": "1", "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1"}
        args = [claude, "-p", W.TASK, "--output-format", "stream-json", "--verbose",
                "--dangerously-skip-permissions", "--model", "claude-sonnet-4-5"]
        done = subprocess.run(args, cwd=WS, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300)
        print(done.stderr[-3000:])
        print("requests:", [(r.path, sorted((r.body or {}).keys()) if isinstance(r.body, dict) else None)
                            for r in api.requests])
    sessions = sorted((tmp / ".claude" / "projects").glob("*/*.jsonl"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if mode == "subagent":
        (out_dir / "stream-subagent.jsonl").write_text(done.stdout)
        print("wrote", out_dir / "stream-subagent.jsonl")
        shutil.rmtree(tmp)
        return
    (out_dir / "stream.jsonl").write_text(done.stdout)
    assert len(sessions) == 1, sessions
    shutil.copy(sessions[0], out_dir / "session.jsonl")
    print("wrote", out_dir)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:4])
