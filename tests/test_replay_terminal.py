"""The real interactive replay in a real pseudo-terminal: tmux runs it at a fixed size, the test
sends keys and reads the screen; pexpect checks the raw session and the exit. Waits have generous
deadlines but nothing asserts on timing."""
from __future__ import annotations

import re
import sys

import pexpect
import pytest

from bench.synthetic_run import write_synthetic_run
from conftest import ROOT
from replay_support import Screen, line_with, write_scores, write_tiny_run
from test_replay import DEMO_SCORES, DEMO_STEPS
from testbed.log import EVENTS_FILE, EventWriter, RunFinished


@pytest.fixture
def screen_factory(tmp_path):
    screens = []

    def make(args, **kw):
        s = Screen(tmp_path / f"tmux{len(screens)}", args, **kw)
        screens.append(s)
        return s
    for d in range(3):
        (tmp_path / f"tmux{d}").mkdir()
    yield make
    for s in screens:
        s.close()


def step_title(screen: str) -> str:
    """The step view's title line ("step N  N of M …")."""
    return next((ln for ln in screen.splitlines() if re.match(r"^step \d+ +\d+ of \d+", ln)), "")


def at_step(n: int):
    return lambda s: step_title(s).startswith(f"step {n}  ")


def test_keys_drive_the_replay(tmp_path, screen_factory):
    run = write_tiny_run(tmp_path / "demo-run", DEMO_STEPS)
    write_scores(run, DEMO_SCORES)
    sc = screen_factory([str(run)], width=110, height=42)
    first = sc.wait(at_step(1))
    assert "interval-off-by-one · solved after 6 steps · 12.5 s · $0.0123 · seed 7 · scripted:demo.yaml" in first
    assert "scores: tone+actions from scores.jsonl" in first
    assert line_with(first, "tone").endswith("▁▃▅█▃▁") or "▁▃▅█▃▁" in line_with(first, "tone")
    assert "4" not in line_with(first, "drastic") and "!1" in line_with(first, "drastic").replace(" ", "")
    assert "←→ step" in first and "q quit" in first and "⏸ paused" in first  # the footer
    sc.keys("Right")
    sc.wait(at_step(2))
    sc.keys("]")
    s = sc.wait(at_step(4))
    assert "D1" in step_title(s) and "→ step 4: drastic action (scored)" in s
    assert "reset_hard" in s or "↓" in s
    sc.keys("o")
    s = sc.wait(at_step(3))
    assert "! frustration onset" in step_title(s) and "I am so tired of this test." in s
    sc.keys("g")
    sc.wait(at_step(6))
    sc.keys("r")
    sc.wait(at_step(2))
    sc.keys("/")
    sc.wait("search narration:")
    sc.type("sorry")
    sc.keys("Enter")
    # wait for the whole redraw: a capture can land between the title and the footer lines
    s = sc.wait(lambda s: at_step(5)(s) and "search narration:" not in s)
    assert "match for 'sorry'" in s
    sc.keys(":")
    sc.type("1")
    sc.keys("Enter")
    s = sc.wait(at_step(1))
    assert "⋯ 40 lines not shown (e: show all) ⋯" in s
    sc.keys("e")
    sc.wait("↓")  # the whole output no longer fits: the body scrolls
    for _ in range(6):
        sc.keys("PageDown")
    s = sc.wait("source line 59")
    assert "more lines above" in s
    sc.keys("+", "+", "Space")
    s = sc.wait("▶ playing 4 steps/s")
    sc.wait(lambda t: "end of the run" in t, timeout=60)
    assert at_step(6)(sc.text())
    sc.keys("q")
    status, canon = sc.wait_exit().split()
    assert status == "0" and canon == "icanon"  # exit 0, and the terminal is back in canonical mode


def test_diff_toggle_shows_the_shadow_git_diff(tmp_path, screen_factory):
    run = write_synthetic_run(tmp_path, steps=30, seed=3, shadow=True)
    from testbed.replay.source import open_run
    changed = next(s.index for s in open_run(run).run.steps if s.snapshot.changed)
    sc = screen_factory([str(run), "--step", str(changed)], width=120, height=60)
    s = sc.wait(at_step(changed))
    assert "d: show the diff" in s and "@@" not in s
    sc.keys("d")
    s = sc.wait("@@")
    assert f"+value = {changed}  # attempt at step {changed}" in s and "diff shown" in s
    sc.keys("d")
    sc.wait(lambda t: "@@" not in t)
    sc.keys("q")
    assert sc.wait_exit().startswith("0 ")


def test_follow_mode_shows_new_steps_as_they_land(tmp_path, screen_factory):
    run = write_tiny_run(tmp_path / "live-run", DEMO_STEPS[:2], finished=False)
    sc = screen_factory([str(run), "--no-score"], width=110, height=40)
    s = sc.wait(at_step(2))  # a run still going opens at its latest step
    assert "● live: new steps appear as they are written" in s and "following" in s
    writer = EventWriter(run / EVENTS_FILE, run.name)
    write_tiny_run(run, [{**DEMO_STEPS[2], "text": "A brand new step has landed."}], finished=False,
                   writer=writer)
    s = sc.wait("A brand new step has landed.")
    assert at_step(3)(s)
    writer.write(RunFinished(run_id=run.name, outcome="gave_up", reason="gave up", steps=3, wall_s=4.0))
    writer.close()
    s = sc.wait("gave_up after 3 steps")
    assert "● live" not in s
    sc.keys("q")
    assert sc.wait_exit().startswith("0 ")


def test_corrupt_log_in_the_terminal(tmp_path, screen_factory):
    run = write_tiny_run(tmp_path / "bad-run", DEMO_STEPS)
    lines = (run / EVENTS_FILE).read_text().splitlines(keepends=True)
    lines.insert(5, '{"v": 1, "run_id": "bad-run", "type": "step", "index": "nope"}\n')
    (run / EVENTS_FILE).write_text("".join(lines))
    sc = screen_factory([str(run), "--no-score"], width=160, height=40)
    s = sc.wait("log stopped at a bad line")
    assert "events.jsonl:6: invalid event" in s
    sc.keys("End")
    s = sc.wait(lambda t: "of 2" in step_title(t) or "of 1" in step_title(t))
    sc.keys("q")
    assert sc.wait_exit().startswith("0 ")


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_pexpect_session_and_ctrl_c(tmp_path, sigint):
    """Ctrl-C quits, also when the replay inherits SIGINT ignored (started by `nohup … &`)."""
    run = write_tiny_run(tmp_path / "demo-run", DEMO_STEPS)
    write_scores(run, DEMO_SCORES)
    env = {"PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "PATH": "/usr/bin:/bin"}
    import signal
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint == "ignored" else None
    child = pexpect.spawn(sys.executable, ["-m", "testbed", "replay", str(run)], cwd=str(ROOT), env=env,
                          dimensions=(40, 120), timeout=30, encoding="utf-8", preexec_fn=ignore)
    try:
        child.expect("\x1b\\[\\?1049h")  # the alternate screen
        child.expect("paused")
        child.send("\x1b[C")  # →
        child.expect("step 2")
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert "\x1b[?1049l" in child.before  # the alternate screen was left
    finally:
        if child.isalive():
            child.terminate(force=True)
