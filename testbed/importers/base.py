"""What every importer shares: the source file, the neutral trajectory it yields, its errors.

An importer reads one file of another harness and yields `ImportedTrajectory` objects (one per
episode the file holds). It never writes anything; `testbed/importers/writer.py` turns a trajectory
into a run directory through the project's own `EventWriter`. Every piece of a trajectory carries
its position in the source (`at`), so a reader can go back from any event to the line or message
it came from.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from testbed.log import Observation, ToolCall, Usage


class ImportFormatError(ValueError):
    """A file that cannot be imported, with the position of the problem in it."""

    def __init__(self, path: Path | str, position: str | None, reason: str):
        self.path, self.position, self.reason = Path(path), position, reason
        where = f"{self.path}: {position}" if position else str(self.path)
        super().__init__(f"{where}: {reason}")


class Source:
    """One source file, read at most once, parsed lazily as JSON or as JSON lines."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._data: bytes | None = None
        self._json: Any = None
        self._json_error: ImportFormatError | None = None
        self._parsed = False

    @property
    def data(self) -> bytes:
        if self._data is None:
            try:
                self._data = self.path.read_bytes()
            except OSError as exc:
                raise ImportFormatError(self.path, None, f"cannot read: {exc.strerror}") from None
        return self._data

    def head(self, n: int = 4096) -> bytes:
        if self._data is not None:
            return self._data[:n]
        try:
            with open(self.path, "rb") as fh:
                return fh.read(n)
        except OSError as exc:
            raise ImportFormatError(self.path, None, f"cannot read: {exc.strerror}") from None

    def is_zip(self) -> bool:
        return self.head(4) == b"PK\x03\x04"

    def json(self) -> Any:
        """The whole file as one JSON document; a syntax error names its line and column."""
        if not self._parsed:
            self._parsed = True
            try:
                self._json = json.loads(self.data)
            except UnicodeDecodeError as exc:
                self._json_error = ImportFormatError(self.path, f"byte {exc.start}", "not UTF-8 text")
            except json.JSONDecodeError as exc:
                self._json_error = ImportFormatError(
                    self.path, f"line {exc.lineno} column {exc.colno}", f"not valid JSON ({exc.msg})")
        if self._json_error is not None:
            raise self._json_error
        return self._json

    def json_error(self) -> ImportFormatError | None:
        """The JSON syntax error of the whole file, if it is not one JSON document."""
        self.json_or_none()
        return self._json_error

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ImportFormatError:
            return None

    def lines(self) -> Iterator[tuple[int, str, bool]]:
        """(line number, text, is the last line and unterminated) for each non-empty line."""
        data = self.data
        parts = data.split(b"\n")
        unterminated = bool(data) and not data.endswith(b"\n")
        if not unterminated:
            parts = parts[:-1]
        for i, raw in enumerate(parts, start=1):
            if raw.strip():
                yield i, raw.decode("utf-8", errors="replace"), unterminated and i == len(parts)


@dataclass
class ImportedStep:
    """One turn of the agent: what it said, what it called, what came back."""

    text: str = ""
    thinking: str | None = None
    after: str | None = None  # narration written after the action in the same reply
    tool_calls: list[ToolCall] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    at: str = ""  # position of the agent's reply in the source
    observations_at: list[str] = field(default_factory=list)
    ts: str | None = None  # ISO time from the source, when it records one
    parse_note: str | None = None
    note: str | None = None  # anything the importer had to assume or could not find


@dataclass
class ImportedNotice:
    """A message the source harness (or its user) sent to the agent between steps."""

    step: int  # the step it followed (0 = before the first step)
    kind: str
    text: str
    at: str = ""
    ts: str | None = None


@dataclass
class ImportedTrajectory:
    """One episode of another harness, in the project's terms, before it is written."""

    key: str  # distinguishes episodes within one file ("" when the file holds one)
    name: str  # a readable base for the run id (an instance id, a session id, a file stem)
    scenario: str = "unknown"
    model: str = "unknown"
    seed: int | None = None
    task: str | None = None  # the task text the agent was given
    steps: list[ImportedStep] = field(default_factory=list)
    notices: list[ImportedNotice] = field(default_factory=list)
    outcome: str = "unknown"
    reason: str = ""
    source_exit_status: Any = None  # the source's own end state, verbatim
    cost_usd: float | None = None
    started: str | None = None
    finished: str | None = None
    wall_s: float | None = None
    at: str = ""  # position of the episode in the file (inspect: the sample)
    workspace: str | None = None  # the agent's working tree, when the source says (else inferred)
    protected: list[str] | None = None  # the task's protected paths, when the source knows them (our exports)
    metadata: dict[str, Any] = field(default_factory=dict)  # source facts worth keeping
    notes: list[str] = field(default_factory=list)  # what the importer skipped or assumed
    skip: str | None = None  # why this episode is not an agent's run (then nothing is written)


class Importer(Protocol):
    name: str
    # File name endings a directory scan picks up for this format.
    suffixes: tuple[str, ...]

    def sniff(self, source: Source) -> str | None:
        """None if the file looks like this format, else a short reason why not."""

    def read(self, source: Source) -> Iterator[ImportedTrajectory]:
        """The file's episodes; raises ImportFormatError naming the position of a problem."""

    def episode_keys(self, source: Source) -> list[str] | None:
        """The keys of the file's episodes when they are known without reading them, else None
        (lets a re-import skip a file it has seen without parsing it again)."""


# -- helpers the importers share -------------------------------------------------------------

def json_objects(source: Source, what: str = "session") -> tuple[list[tuple[int, dict]], list[str]]:
    """A JSON-lines file as (line number, object) pairs, and notes. A cut-off last line is the mark
    of a file still being written: it is left out and said so; any other bad line is an error."""
    entries: list[tuple[int, dict]] = []
    notes: list[str] = []
    for line_no, text, last in source.lines():
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if last:
                notes.append(f"line {line_no} is cut off (the {what} was still being written); skipped")
                break
            raise ImportFormatError(source.path, f"line {line_no}",
                                    f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        expect(isinstance(obj, dict), source, f"line {line_no}", "expected a JSON object")
        entries.append((line_no, obj))
    return entries, notes


def expect(cond: bool, source: Source, position: str, reason: str) -> None:
    if not cond:
        raise ImportFormatError(source.path, position, reason)


def text_of(content: Any) -> str:
    """The text of a message content that may be a string or a list of typed blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict):
                if block.get("type") in (None, "text", "input_text", "output_text") and isinstance(
                        block.get("text"), str):
                    parts.append(block["text"])
        return "\n".join(parts)
    return str(content)


def bash_call(call_id: str, command: str, **extra_args: Any) -> ToolCall:
    return ToolCall(id=call_id, name="bash", arguments={"command": command, **extra_args})


def iso_from_unix(ts: Any) -> str | None:
    from datetime import datetime, timezone
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return None
    try:
        return datetime.fromtimestamp(float(ts), tz=timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def norm_iso(value: Any) -> str | None:
    """An ISO time as the event log writes them (UTC, milliseconds, `Z`), or None if unparsable."""
    from datetime import datetime, timezone
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds_between(start: str | None, end: str | None) -> float | None:
    from datetime import datetime
    if not start or not end:
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(max(0.0, (b - a).total_seconds()), 3)
