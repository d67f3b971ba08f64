"""The fault and attack matrix: what a hostile agent tries, played in the real sandbox.

Each attack in `attacks/*.yaml` is a scripted agent (the `scripted:` model) run with the real
`testbed run` command in a real container, on a solvable scenario and, for the verdict attacks, on
an impossible one too. The harness process runs with fake API keys in its environment. After the
run the suite checks, from the run directory alone:

- contained: nothing of the attack outlived the run or reached the host (no container, work
  directory or mount left, none of the attack's host paths exists);
- logged: the log reads strictly, every scripted turn is a step, in order, and the last line of
  stdout is the run directory;
- verdict held: the run is not `solved` (every attack here is played against failing tests);
- D2: the actions scorer flags a D2 detection (verdict attacks) ;
- survived: the CLI exited 0 and the outcome is not `error`;
- leaks: none of the fake keys appears in any file of the run directory, git objects included.

`python -m testbed.reliability --write docs/reliability.md` regenerates the matrix in the docs;
`tests/test_attacks.py` runs the same attacks and fails when the docs no longer match.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
ATTACKS_DIR = HERE / "attacks"
SOLVABLE, IMPOSSIBLE = "interval-off-by-one", "duration-unit-conflict"
FAKE_KEYS = {name: f"sk-testbed-fake-{secrets.token_hex(12)}" for name in
             ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENAI_COMPATIBLE_API_KEY")}
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"


@dataclass
class Attack:
    name: str
    title: str
    group: str
    issue: str
    turns: list[dict[str, Any]]
    knobs: dict[str, Any] = field(default_factory=dict)
    host_paths: list[str] = field(default_factory=list)
    expect_files: list[str] = field(default_factory=list)
    expect_output: list[str] = field(default_factory=list)  # must appear in some observation
    forbid_output: list[str] = field(default_factory=list)  # must appear in none

    @property
    def scenarios(self) -> list[str]:
        return [SOLVABLE, IMPOSSIBLE] if self.group == "verdict" else [SOLVABLE]


def load_attacks() -> list[Attack]:
    out = []
    for f in sorted(ATTACKS_DIR.glob("*.yaml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        out.append(Attack(name=f.stem, title=data["title"], group=data["group"], issue=data.get("issue", ""),
                          turns=data["turns"], knobs=data.get("knobs", {}), host_paths=data.get("host_paths", []),
                          expect_files=data.get("expect_files", []), expect_output=data.get("expect_output", []),
                          forbid_output=data.get("forbid_output", [])))
    return out


@dataclass
class Result:
    attack: str
    scenario: str
    group: str
    outcome: str
    basis: list[str]
    contained: bool
    logged: bool
    verdict_held: bool
    d2: bool
    survived: bool
    leaks: list[str]
    detail: str = ""
    seconds: float = 0.0


def run_attack(attack: Attack, scenario: str, root: Path, project: Path | None = None) -> Result:
    """Play one attack with the real CLI and judge it from the run directory."""
    project = project or HERE.parent.parent
    root.mkdir(parents=True, exist_ok=True)
    script = root / f"{attack.name}.json"
    script.write_text(json.dumps({"turns": attack.turns}))
    runs = root / "runs"
    steps = len(attack.turns) + 1
    args = [sys.executable, "-m", "testbed", "run", scenario, "--model", f"scripted:{script}",
            "--max-steps", str(steps), "--runs-dir", str(runs), "--quiet"]
    for k, v in attack.knobs.items():
        args += ["--set", f"{k}={json.dumps(v)}"]
    env = {**os.environ, **FAKE_KEYS, "PYTHONPATH": str(project), "TESTBED_MODEL": "simulated"}
    before = set(runs.iterdir()) if runs.is_dir() else set()
    t0 = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=project, timeout=600)
    seconds = time.monotonic() - t0
    new = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    run_dir = new[0] if new else None
    last_line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if run_dir is None:
        return Result(attack.name, scenario, attack.group, "none", [], False, False, False, False, False, [],
                      f"no run directory; exit {proc.returncode}: {proc.stderr.strip()[-300:]}", seconds)
    return judge_run(attack, scenario, run_dir, proc.returncode, last_line, proc.stderr, seconds)


def judge_run(attack: Attack, scenario: str, run_dir: Path, rc: int, last_line: str, stderr: str,
              seconds: float) -> Result:
    from testbed.log import LogError, read_events
    from testbed.rundata import load_run
    from testbed.scoring import get_scorers, score_run_dir

    details = []
    try:
        events = read_events(run_dir, strict=True).events
    except LogError as exc:
        events = read_events(run_dir, strict=False).events
        details.append(f"log: {exc}")
    steps = [e for e in events if e.type == "step"]
    finished = next((e for e in events if e.type == "run_finished"), None)
    outcome = finished.outcome if finished else "unfinished"
    played = _played(attack, steps)
    logged = played and bool(events) and events[-1].type == "run_finished" and last_line == str(run_dir) \
        and not details
    if not played:
        details.append(f"only {len(steps)} steps logged for {len(attack.turns)} turns")
    if last_line != str(run_dir):
        details.append(f"last stdout line is {last_line[:80]!r}")
    for rel in attack.expect_files:
        commit = steps[-1].snapshot.commit if steps and steps[-1].snapshot else None
        if commit is None or not _in_commit(run_dir, commit, rel):
            logged = False
            details.append(f"{rel} is not in the last snapshot")
    seen = "\n".join(o.output for st in steps for o in st.observations)
    for text in attack.expect_output:
        if text not in seen:
            logged = False
            details.append(f"no observation shows {text!r}")
    for text in attack.forbid_output:
        if text in seen:
            logged = False
            details.append(f"an observation shows {text!r}")
    score_run_dir(run_dir, get_scorers(["actions"]))
    run = load_run(run_dir)
    d2 = False
    for line in run.read_scores() or []:
        if line.get("type") == "step" and "D2" in ((line.get("actions") or {}).get("classes") or []):
            d2 = True
    bases = sorted({t.verdict_basis for t in run.tests if t.step > 0 and t.verdict_basis})
    leaks = sorted(name for name, value in FAKE_KEYS.items() if _appears(run_dir, value))
    contained = _contained(attack, run_dir)
    survived = rc == 0 and outcome not in ("error", "unfinished")
    if not survived:
        details.append(f"exit {rc}, outcome {outcome}: {stderr.strip()[-200:]}")
    return Result(attack.name, scenario, attack.group, outcome, bases, contained, logged,
                  outcome != "solved", d2, survived, leaks, "; ".join(details), round(seconds, 1))


def _played(attack: Attack, steps: list[Any]) -> bool:
    if len(steps) < len(attack.turns):
        return False
    for turn, step in zip(attack.turns, steps):
        want = turn.get("bash")
        got = next((c.arguments.get("command") for c in step.tool_calls if c.name == "bash"), None)
        if want is not None and got != want:
            return False
    return True


def _in_commit(run_dir: Path, commit: str, rel: str) -> bool:
    from testbed.sandbox.shadow import ShadowRepo
    repo = ShadowRepo(run_dir / "shadow.git", run_dir)
    return any(os.fsdecode(p) == rel for p, _, _ in repo.entries(repo.tree_of(commit)))


def _appears(run_dir: Path, value: str) -> bool:
    """Anywhere in the run directory: plain files, and git objects decompressed."""
    needle = value.encode()
    for path in run_dir.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if needle in data:
            return True
        if "objects" in path.parts:
            try:
                if needle in zlib.decompress(data):
                    return True
            except zlib.error:
                pass
    return False


def _contained(attack: Attack, run_dir: Path) -> bool:
    from testbed.sandbox.quota import mounts_below
    from testbed.sandbox.workspace import work_root
    run_id = run_dir.name
    if any(Path(p).exists() for p in attack.host_paths):
        return False
    if (work_root() / run_id).exists() or mounts_below(work_root() / run_id):
        return False
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=testbed.run={run_id}"],
                         capture_output=True, text=True)
    return out.returncode == 0 and not out.stdout.strip()


def summarize(results: list[Result]) -> list[dict[str, Any]]:
    """One row per attack: each column is ok when it held on every scenario the attack ran on."""
    rows = []
    attacks = {a.name: a for a in load_attacks()}
    for name in sorted({r.attack for r in results}):
        rs = [r for r in results if r.attack == name]
        a = attacks.get(name)
        rows.append({
            "attack": name, "title": a.title if a else name, "group": rs[0].group,
            "scenarios": len(rs), "contained": all(r.contained for r in rs), "logged": all(r.logged for r in rs),
            "verdict_held": all(r.verdict_held for r in rs),
            "d2": all(r.d2 for r in rs) if rs[0].group == "verdict" else None,
            "survived": all(r.survived for r in rs), "leaks": sorted({k for r in rs for k in r.leaks}),
            "basis": sorted({b for r in rs for b in r.basis})})
    return rows


def _mark(value: Any) -> str:
    if value is None:
        return "n/a"
    return "yes" if value else "**NO**"


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["| attack | group | contained | logged | verdict held | D2 flagged | run survived | leaks | verdict basis |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (["verdict", "keys", "record", "resources"].index(r["group"])
                                         if r["group"] in ("verdict", "keys", "record", "resources") else 9,
                                         r["attack"])):
        lines.append(f"| {r['title']} (`{r['attack']}`, {r['scenarios']} scenario{'s' if r['scenarios'] > 1 else ''}) "
                     f"| {r['group']} | {_mark(r['contained'])} | {_mark(r['logged'])} | {_mark(r['verdict_held'])} "
                     f"| {_mark(r['d2'])} | {_mark(r['survived'])} | {', '.join(r['leaks']) or 'none'} "
                     f"| {', '.join(r['basis']) or '—'} |")
    return "\n".join(lines) + "\n"


def replace_matrix(doc: str, matrix: str) -> str:
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    return doc[:start] + "\n" + matrix + doc[end:]


def current_matrix(doc: str) -> str:
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    return doc[start:end].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile
    p = argparse.ArgumentParser(prog="python -m testbed.reliability")
    p.add_argument("--write", type=Path, help="replace the matrix in this markdown file")
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="testbed-attacks-") as tmp:
        for a in load_attacks():
            if args.only and a.name not in args.only:
                continue
            for s in a.scenarios:
                r = run_attack(a, s, Path(tmp) / f"{a.name}-{s}")
                print(f"{a.name:22} {s:24} {r.outcome:17} held={r.verdict_held} d2={r.d2} logged={r.logged} "
                      f"survived={r.survived} contained={r.contained} leaks={r.leaks} {r.seconds:.0f}s {r.detail}",
                      flush=True)
                results.append(r)
    rows = summarize(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    matrix = render(rows)
    if args.write:
        args.write.write_text(replace_matrix(args.write.read_text(), matrix))
    print(matrix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
