"""An imported trajectory becomes a run directory, written through the project's own EventWriter.

The run id is derived from the source file's bytes (and the episode's key within the file), so
importing the same file again finds the run it made before and skips it; `force` replaces it. A
run directory is written under a temporary name and renamed into place, so an interrupted import
never leaves half a run behind. Imported runs have no shadow git: effect-based action detection is
unavailable for them, and `run_started` says so (`imported: true`, `config.import.limitations`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed import __version__
from testbed.importers.base import ImportedTrajectory, norm_iso
from testbed.importers.testruns import parse_test_output
from testbed.log import (EVENTS_FILE, RUN_FILE, EventWriter, Narration, NoticeEvent, RunFinished,
                         RunStarted, StepEvent, TestsEvent, now_iso, write_json_atomic)

SHORT_NAMES = {"mini-swe-agent": "mini", "swe-agent": "swe", "claude-code": "cc", "inspect": "inspect"}
LIMITATIONS = [
    "no shadow git: effect-based action detection (diffs, deleted files, HEAD moves) is unavailable; "
    "only the commands and edits the agent issued can be classified",
    "no harness test runs: `tests` events, when present, are the agent's own test commands "
    "(pristine: false)",
]


class ImportConflict(Exception):
    """The target directory exists and is not an imported run; nothing is replaced."""


def slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "x"


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_id_for(fmt: str, digest: str, traj: ImportedTrajectory) -> str:
    key = hashlib.sha256(f"{fmt}\0{digest}\0{traj.key}".encode()).hexdigest()[:12]
    return f"imp-{SHORT_NAMES.get(fmt, slug(fmt))}-{slug(traj.name)}-{key}"


def source_key(fmt: str, path: Path, traj_key: str) -> str:
    return f"{fmt}\0{Path(path).resolve()}\0{traj_key}"


@dataclass
class Existing:
    run_id: str
    digest: str


class ImportIndex:
    """Imported runs already in an output directory, by source (format, file path, episode)."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.by_source: dict[str, Existing] = {}
        self.by_content: dict[tuple[str, str, str], str] = {}  # (format, sha256, episode key) -> run id
        if self.out_dir.is_dir():
            for child in self.out_dir.iterdir():
                if child.name.startswith(".") or not (child / EVENTS_FILE).is_file():
                    continue
                first = _first_event(child / EVENTS_FILE)
                imp = (first or {}).get("config", {}).get("import") if first else None
                if first and first.get("imported") and isinstance(imp, dict):
                    key = source_key(imp.get("format", ""), Path(imp.get("file", "")), imp.get("key", ""))
                    self.by_source[key] = Existing(child.name, imp.get("sha256", ""))
                    self.by_content[(imp.get("format", ""), imp.get("sha256", ""), imp.get("key", ""))] = child.name

    def add(self, key: str, run_id: str, digest: str, fmt: str, episode: str) -> None:
        self.by_source[key] = Existing(run_id, digest)
        self.by_content[(fmt, digest, episode)] = run_id

    def already_imported(self, fmt: str, digest: str, episodes: list[str] | None) -> list[str] | None:
        """The run ids of a file whose every episode is imported already, else None."""
        if not episodes:
            return None
        found = [self.by_content.get((fmt, digest, k)) for k in episodes]
        if all(r and (self.out_dir / r / EVENTS_FILE).is_file() for r in found):
            return [r for r in found if r]
        return None


def _first_event(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.readline())
    except (OSError, ValueError):
        return None


def is_imported_run(run_dir: Path) -> bool:
    first = _first_event(run_dir / EVENTS_FILE)
    return bool(first and first.get("type") == "run_started" and first.get("imported"))


def write_run(traj: ImportedTrajectory, *, fmt: str, source_path: Path, digest: str, out_dir: Path,
              run_id: str, force: bool = False, parse_tests: bool = True,
              overrides: dict[str, Any] | None = None) -> Path:
    """Write one run directory (atomically) and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / run_id
    if target.exists() and not is_imported_run(target):
        raise ImportConflict(f"{target} exists and is not an imported run; not replacing it")
    tmp = out_dir / f".{run_id}.importing-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        _write_events(tmp, traj, fmt=fmt, source_path=source_path, digest=digest, run_id=run_id,
                      parse_tests=parse_tests, overrides=overrides or {})
        if target.exists():
            if not force:
                raise FileExistsError(target)
            old = out_dir / f".{run_id}.replaced-{os.getpid()}"
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_events(run_dir: Path, traj: ImportedTrajectory, *, fmt: str, source_path: Path, digest: str,
                  run_id: str, parse_tests: bool, overrides: dict[str, Any]) -> None:
    file = str(Path(source_path).resolve())

    def src(at: str, **more: Any) -> dict[str, Any]:
        return {"format": fmt, "file": file, "at": at, **more}

    scenario = overrides.get("scenario") or traj.scenario or "unknown"
    model = overrides.get("model") or traj.model or "unknown"
    imported_at = now_iso()
    start_ts = norm_iso(traj.started) or imported_at
    notices_by_step: dict[int, list] = {}
    for notice in traj.notices:
        notices_by_step.setdefault(notice.step, []).append(notice)
    signatures: dict[str, int] = {}
    n_tests = 0
    with EventWriter(run_dir / EVENTS_FILE, run_id) as log:
        log.write(RunStarted(
            run_id=run_id, scenario=scenario, model=model, seed=traj.seed, imported=True, ts=start_ts,
            source=src(traj.at or "file"),
            config={"import": {"format": fmt, "file": file, "key": traj.key, "sha256": digest,
                               "at": traj.at, "imported_at": imported_at,
                               "source_scenario": traj.scenario, "source_model": traj.model,
                               "timestamps": "source" if norm_iso(traj.started) else "import time",
                               "limitations": LIMITATIONS, "notes": traj.notes,
                               "tests_parsed": parse_tests},
                    "task": traj.task, "source": traj.metadata, "batch": None,
                    "workspace": traj.workspace or infer_workspace(traj),
                    **({"scenario": {"protected": list(traj.protected)}} if traj.protected else {})},
            versions={"testbed": __version__, "source_format": fmt}))
        last_ts = start_ts
        for notice in notices_by_step.get(0, []):
            _notice(log, notice, src, last_ts)
        for index, step in enumerate(traj.steps, start=1):
            last_ts = norm_iso(step.ts) or last_ts
            narration = Narration(text=step.text, thinking=step.thinking,
                                  **({"after": step.after} if step.after else {}))
            sig = hashlib.sha1(json.dumps([step.text.strip(), [(c.name, c.arguments) for c in step.tool_calls]],
                                          sort_keys=True, default=str).encode()).hexdigest()
            repeat_of = signatures.get(sig)
            signatures[sig] = index
            log.write(StepEvent(run_id=run_id, index=index, narration=narration, tool_calls=step.tool_calls,
                                observations=step.observations, snapshot=None, usage=step.usage,
                                repeat_of=repeat_of, parse_note=step.parse_note, ts=last_ts,
                                source=src(step.at, observations_at=step.observations_at),
                                **({"import_note": step.note} if step.note else {})))
            if parse_tests:
                n_tests += _tests_from_step(log, index, step, src, last_ts)
            for notice in notices_by_step.get(index, []):
                _notice(log, notice, src, last_ts)
        for step_no, notices in notices_by_step.items():
            if step_no > len(traj.steps):
                for notice in notices:
                    _notice(log, notice, src, last_ts)
        log.write(RunFinished(run_id=run_id, outcome=traj.outcome, reason=traj.reason,
                              steps=len(traj.steps), wall_s=traj.wall_s or 0.0, cost_usd=traj.cost_usd,
                              ts=norm_iso(traj.finished) or last_ts,
                              source_exit_status=traj.source_exit_status,
                              wall_s_known=traj.wall_s is not None, source=src(traj.at or "file")))
    write_json_atomic(run_dir / RUN_FILE, {
        "run_id": run_id, "scenario": scenario, "model": model, "seed": traj.seed,
        "outcome": traj.outcome, "reason": traj.reason, "steps": len(traj.steps),
        "wall_s": traj.wall_s, "cost_usd": traj.cost_usd, "started": traj.started,
        "finished": traj.finished, "batch": None, "imported": True,
        "source": {"format": fmt, "file": file, "key": traj.key, "sha256": digest,
                   "exit_status": traj.source_exit_status},
        "tests_events": n_tests, "testbed_version": __version__})


def _notice(log: EventWriter, notice: Any, src: Any, ts: str) -> None:
    log.write(NoticeEvent(run_id="", step=notice.step, kind=notice.kind, text=notice.text,
                          ts=norm_iso(notice.ts) or ts, source=src(notice.at)))


def _tests_from_step(log: EventWriter, index: int, step: Any, src: Any, ts: str) -> int:
    written = 0
    calls = {c.id: c for c in step.tool_calls}
    for obs, at in zip(step.observations, step.observations_at):
        call = calls.get(obs.tool_call_id)
        if call is None or call.name != "bash":
            continue
        command = str(call.arguments.get("command", ""))
        parsed = parse_test_output(command, obs.output)
        if parsed is None:
            continue
        log.write(TestsEvent(run_id="", step=index, trigger="tool", passed=parsed.passed, failed=parsed.failed,
                             errors=parsed.errors, all_passed=parsed.all_passed, exit_code=obs.exit_code,
                             duration_ms=obs.duration_ms, output=obs.output[-4000:], ts=ts,
                             origin="agent_command", pristine=False, runner=parsed.runner, command=command,
                             source=src(at)))
        written += 1
    return written


_CD_ABS = re.compile(r"^\s*cd\s+(/[^\s;&|]*)")


def infer_workspace(traj: ImportedTrajectory) -> str | None:
    """The agent's working tree when the source does not name it: the directory its first
    command changes into (`cd /testbed && …` in SWE-bench-style trajectories)."""
    for step in traj.steps:
        for call in step.tool_calls:
            m = _CD_ABS.match(str(call.arguments.get("command", "")))
            if m:
                return m.group(1).rstrip("/") or "/"
    return None
