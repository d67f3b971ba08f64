"""Reading a run log incrementally, for a replay that follows a run still being written.

The semantics are those of `testbed.log.read_events(strict=False)`: blank lines are skipped, a bad
complete line ends the read for good (its line number is kept), and an unterminated last line that
does not parse is a torn tail. The difference is that reading resumes where it left off, so a run
that is still going can be polled cheaply; an unterminated last line is kept back until the writer
finishes it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from testbed.log import EVENTS_FILE, line_error, parse_line
from testbed.rundata import RunData, resolve_run


class LogFollower:
    """Appends the events of one events.jsonl to a RunData, poll after poll."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self.run = RunData(path=self.run_dir, events=[])
        self._offset = 0
        self._pending = b""
        self._line_no = 0
        self._took_unterminated = False  # the last line was taken before its newline arrived
        self.stopped_at_line: int | None = None

    @property
    def error(self) -> str | None:
        return self.run.stopped_at

    @property
    def partial_tail(self) -> bool:
        """An unterminated last line is waiting (being written, or torn by a crash)."""
        return bool(self._pending.strip())

    @property
    def finished(self) -> bool:
        return self.run.finished is not None

    def poll(self) -> list[Any]:
        """Read what was appended since the last poll; return the new events."""
        if self.error:
            return []
        try:
            size = self.path.stat().st_size
            if size < self._offset:
                self._stop(self._line_no + 1, "events.jsonl became shorter than what was already "
                                              "read (logs are append-only): reading stopped")
                return []
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError as exc:
            self._stop(self._line_no + 1, f"cannot read: {exc.strerror or exc}")
            return []
        self._offset += len(data)
        if self._took_unterminated and data:
            self._took_unterminated = False
            if data.startswith(b"\n"):
                data = data[1:]
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        new: list[Any] = []
        for raw in lines:
            self._line_no += 1
            event, reason = _parse(raw)
            if reason:
                self._stop(self._line_no, reason)
                self._pending = b""
                break
            if event is not None:
                new.append(event)
        if self._pending and not self.error:
            # A complete JSON object without its newline is a whole event (read_events takes it
            # too); anything else is a line still being written, or torn.
            event, reason = _parse(self._pending)
            if event is not None and not reason:
                self._line_no += 1
                self._pending = b""
                self._took_unterminated = True
                new.append(event)
        for event in new:
            self.run.add(event)
        self.run.torn_tail = self.partial_tail
        return new

    def _stop(self, line_no: int, reason: str) -> None:
        self.stopped_at_line = line_no
        self.run.stopped_at = f"{self.path}:{line_no}: {reason}"


def _parse(raw: bytes) -> tuple[Any | None, str | None]:
    if not raw.strip():
        return None, None
    try:
        return parse_line(raw), None
    except (ValueError, ValidationError) as exc:
        return None, line_error(exc)


def open_run(ref: str | Path) -> LogFollower:
    """Resolve a run reference and read everything already in its log."""
    follower = LogFollower(resolve_run(ref))
    follower.poll()
    return follower
