"""The messages between the batch driver and its workers: typed, one JSON object a line.

The driver writes `RunOp` / `ExitOp` to a worker's stdin; the worker answers on its stdout with
`Ready`, `Started`, `StepMsg`, `Finished` or `Failed`; executors add `Lost` when a worker or a Ray
task dies without finishing its run. `decode` returns None for a line that is not one of them (a
stray print), so a worker's noise can never be taken for a result.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Job(_Msg):
    run_id: str
    scenario: str
    model: str
    seed: int
    knobs: dict[str, Any] = Field(default_factory=dict)
    batch: str | None = None
    runs_dir: str
    lock: str
    score: bool = True
    lock_wait: float = 60.0


class RunOp(_Msg):
    op: Literal["run"] = "run"
    job: Job


class ExitOp(_Msg):
    op: Literal["exit"] = "exit"


class PrepareOp(_Msg):
    """Boot the sandbox of the run this worker gets next (testbed/batch/pool.py)."""
    op: Literal["prepare"] = "prepare"
    job: Job


class DiscardOp(_Msg):
    """The prepared run went to another worker: close its sandbox."""
    op: Literal["discard"] = "discard"
    run_id: str


class Ready(_Msg):
    ev: Literal["ready"] = "ready"
    pid: int


class Started(_Msg):
    ev: Literal["started"] = "started"
    run_id: str
    run_dir: str
    pid: int | None = None
    host: str | None = None


class StepTests(_Msg):
    passed: int
    failed: int
    errors: int
    all_passed: bool


class StepTone(_Msg):
    level: int | None = None
    p_frustrated: float | None = None


class StepMsg(_Msg):
    ev: Literal["step"] = "step"
    run_id: str
    index: int
    tone: StepTone | None = None
    cost_usd: float | None = None
    command: str = ""
    tests: StepTests | None = None
    host: str | None = None


class Finished(_Msg):
    ev: Literal["finished"] = "finished"
    run_id: str
    outcome: str
    reason: str = ""
    steps: int = 0
    cost_usd: float | None = None
    run_dir: str | None = None
    scored: str | None = None
    host: str | None = None


class Failed(_Msg):
    ev: Literal["failed"] = "failed"
    run_id: str
    kind: Literal["model", "scenario", "lock", "spec"]
    reason: str


class Lost(_Msg):
    ev: Literal["lost"] = "lost"
    run_id: str
    reason: str
    host: str | None = None


WorkerMessage = Annotated[Union[Ready, Started, StepMsg, Finished, Failed, Lost], Field(discriminator="ev")]
DriverMessage = Annotated[Union[RunOp, ExitOp, PrepareOp, DiscardOp], Field(discriminator="op")]
_WORKER: TypeAdapter[Any] = TypeAdapter(WorkerMessage)
_DRIVER: TypeAdapter[Any] = TypeAdapter(DriverMessage)
ENDS = (Finished, Failed, Lost)  # the messages that end a job


def encode(msg: _Msg) -> str:
    return msg.model_dump_json(exclude_none=False)


def decode(line: bytes | str | dict) -> Any | None:
    """A worker's message, or None when the line is not one."""
    try:
        if isinstance(line, dict):
            return _WORKER.validate_python(line)
        return _WORKER.validate_json(line)
    except ValidationError:
        return None


def decode_op(line: bytes | str) -> Any | None:
    try:
        return _DRIVER.validate_json(line)
    except ValidationError:
        return None
