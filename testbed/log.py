"""The run log: event schema, an append-only writer and a tolerant reader.

`events.jsonl` is the record of a run. It is only ever appended to (one JSON object a line, flushed
per event) and never rewritten; everything else in a run directory is derived from it. `run.json`
is a summary written atomically once the run ends.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from testbed import eventlines

SCHEMA_VERSION = 1
EVENTS_FILE = "events.jsonl"
RUN_FILE = "run.json"
SCORES_FILE = "scores.jsonl"
SHADOW_DIR = "shadow.git"

# `submitted` (the agent declared its work done; nothing here verified it) and `unknown` (the source
# records no end state) occur only in runs imported from other harnesses (testbed/importers/).
Outcome = Literal["solved", "gave_up", "budget_exhausted", "error", "interrupted", "submitted", "unknown"]
OUTCOMES: tuple[str, ...] = ("solved", "gave_up", "budget_exhausted", "error", "interrupted", "submitted",
                             "unknown")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Model(BaseModel):
    # Readers must accept fields added by later versions of the writer (and by importers).
    model_config = ConfigDict(extra="allow")


class Narration(_Model):
    text: str = ""
    thinking: str | None = None


class ToolCall(_Model):
    id: str = ""
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Observation(_Model):
    tool_call_id: str = ""
    tool: str = "bash"
    output: str = ""
    exit_code: int | None = None
    duration_ms: float | None = 0.0  # None: the source did not record it (imports)
    truncated: bool = False
    timed_out: bool = False
    output_bytes: int = 0
    shell_restarted: bool = False
    # What the harness itself added to the output (a timeout, a restart, a quota), kept apart so
    # that no reader mistakes the agent's text for the harness's.
    notes: list[str] = Field(default_factory=list)


class FileChange(_Model):
    path: str
    insertions: int = 0
    deletions: int = 0
    status: str = "M"  # A added, M modified, D deleted (git's letters)


class Snapshot(_Model):
    commit: str | None = None
    parent: str | None = None
    changed: bool = False
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    files: list[FileChange] = Field(default_factory=list)
    # The state of the agent's own repository inside the workspace (it may delete it).
    workspace_git: bool = True
    workspace_head: str | None = None
    duration_ms: float = 0.0
    # Left out of the record: too large, unreadable or special files ({path, reason, size}).
    omitted: list[dict[str, Any]] = Field(default_factory=list)
    # Outside the workspace: files a test runner would load, new/changed/removed since the last
    # step ({path, kind, size, status}); the sandbox's own scan of /tmp, /home/agent and the like.
    outside: list[dict[str, Any]] = Field(default_factory=list)


class Usage(_Model):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None


class _Event(_Model):
    v: int = SCHEMA_VERSION
    run_id: str
    seq: int = 0
    ts: str = Field(default_factory=now_iso)


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    scenario: str
    model: str
    seed: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)
    imported: bool = False


class StepEvent(_Event):
    type: Literal["step"] = "step"
    index: int
    narration: Narration = Field(default_factory=Narration)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    observations: list[Observation] = Field(default_factory=list)
    snapshot: Snapshot | None = None
    usage: Usage = Field(default_factory=Usage)
    # Set when the turn repeats an earlier one verbatim (small models loop).
    repeat_of: int | None = None
    # Set when the reply had no usable action; says what the parser saw.
    parse_note: str | None = None
    # sha256 of the context the model saw for this turn (testbed.agent.loop.context_hash).
    context_hash: str | None = None
    # Set when the workspace could not be recorded after the step (the run ends right after).
    snapshot_error: str | None = None
    # hf: models run with vectors: projections of the residual stream (testbed/whitebox/provider.py).
    internal: dict[str, Any] | None = None


class TestsEvent(_Event):
    type: Literal["tests"] = "tests"
    step: int
    trigger: Literal["auto", "tool", "initial", "final"] = "auto"
    passed: int = 0
    failed: int = 0
    errors: int = 0
    all_passed: bool = False
    exit_code: int | None = None
    duration_ms: float | None = 0.0
    output: str = ""
    # How the verdict was reached (testbed/sandbox/verdict.py): junit | timeout | no_report |
    # bad_report | no_tests | missing_tests | skipped_tests | exit_status | error.
    verdict_basis: str | None = None
    reason: str | None = None
    collected: int | None = None
    skipped: int = 0
    timed_out: bool = False
    tree: str | None = None                 # the shadow-git tree that was tested
    background: list[str] = Field(default_factory=list)  # agent processes alive at the check
    lingering: int = 0                      # tested-code processes alive after the test command
    omitted: list[dict[str, Any]] = Field(default_factory=list)


class TruthEvent(_Event):
    type: Literal["truth"] = "truth"
    step: int
    frustration: float
    level: int
    drastic: str | None = None
    note: str | None = None


class NoticeEvent(_Event):
    """A message the harness itself sent to the agent (feedback, reminders, budget)."""

    type: Literal["notice"] = "notice"
    step: int
    kind: str
    text: str


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    step: int | None = None
    where: str
    message: str


class RunFinished(_Event):
    type: Literal["run_finished"] = "run_finished"
    outcome: Outcome
    reason: str = ""
    steps: int = 0
    wall_s: float = 0.0
    cost_usd: float | None = None


Event = Annotated[
    Union[RunStarted, StepEvent, TestsEvent, TruthEvent, NoticeEvent, ErrorEvent, RunFinished],
    Field(discriminator="type"),
]
_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)
EVENT_TYPES = eventlines.EVENT_TYPES


class LogError(Exception):
    """A malformed line in a run log, with its position."""

    def __init__(self, path: Path, line_no: int, reason: str):
        self.path, self.line_no, self.reason = path, line_no, reason
        super().__init__(f"{path}:{line_no}: {reason}")


def parse_event(obj: dict[str, Any]) -> Any:
    return _EVENT_ADAPTER.validate_python(obj)


class EventWriter:
    """Appends events to `events.jsonl`, one line each, flushed to the kernel per event.

    A `kill -9` of the writer therefore loses nothing already written. `fsync_every` adds
    durability against power loss at a cost of a few milliseconds per sync.
    """

    def __init__(self, path: Path, run_id: str, fsync_every: int = 0):
        self.path = Path(path)
        self.run_id = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = _count_lines(self.path)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._fsync_every = fsync_every

    @property
    def seq(self) -> int:
        return self._seq

    def write(self, event: _Event) -> _Event:
        event.run_id = self.run_id
        event.seq = self._seq
        line = event.model_dump_json(exclude_none=False)
        self._fh.write(line + "\n")
        self._fh.flush()
        self._seq += 1
        if self._fsync_every and self._seq % self._fsync_every == 0:
            os.fsync(self._fh.fileno())
        return event

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


class ReadResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    events: list[Any]
    torn_tail: bool = False  # the last line was cut off mid-write (a crash); it was skipped
    error: str | None = None  # set when reading stopped early at a bad line (strict=False)
    stopped_at_line: int | None = None
    skipped_unknown: int = 0  # good lines of event types this version does not know


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line_no, raw bytes, is_last_and_unterminated)."""
    with open(path, "rb") as fh:
        data = fh.read()
    if not data:
        return
    lines = data.split(b"\n")
    unterminated = not data.endswith(b"\n")
    if not unterminated:
        lines = lines[:-1]
    for i, raw in enumerate(lines, start=1):
        last = unterminated and i == len(lines)
        yield i, raw, last


def read_events(path: Path | str, strict: bool = True, validate: bool = True) -> ReadResult:
    """Read a run log.

    A torn final line (no trailing newline, unparsable) is the signature of a crash mid-write and is
    skipped silently (`torn_tail`). Any other bad line raises LogError naming its line number, or,
    with strict=False, ends the read there and says so in `error`.
    """
    path = Path(path)
    if path.is_dir():
        path = path / EVENTS_FILE
    events: list[Any] = []
    torn = False
    skipped = 0
    for line_no, raw, last_unterminated in iter_lines(path):
        if not raw.strip():
            continue
        try:
            event = parse_line(raw, validate)
            if event is None:
                skipped += 1
                continue
            events.append(event)
        except (ValueError, ValidationError) as exc:
            if last_unterminated:
                torn = True
                break
            reason = _short_reason(exc)
            if strict:
                raise LogError(path, line_no, reason) from None
            return ReadResult(events=events, torn_tail=torn, error=f"{path}:{line_no}: {reason}",
                              stopped_at_line=line_no, skipped_unknown=skipped)
    return ReadResult(events=events, torn_tail=torn, skipped_unknown=skipped)


def parse_line(raw: bytes | str, validate: bool = True) -> Any:
    """One log line as an event (or the raw dict with validate=False); None for a good line of an
    event type this version does not know; ValueError or ValidationError when it is not an event
    (`line_error` words the reason). The line rules are testbed.eventlines's, shared by every reader."""
    obj = eventlines.parse(raw)
    if obj is None:
        return None
    return parse_event(obj) if validate else obj


def line_error(exc: Exception) -> str:
    return _short_reason(exc)


def _short_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"invalid event: {loc}: {err['msg']}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    return str(exc)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON via a temp file and rename, so readers never see a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

