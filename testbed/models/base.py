"""The seam between the agent loop and any model: one protocol, one turn type."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from testbed.log import ToolCall, Usage

# Messages are provider-neutral dicts:
#   {"role": "system"|"user"|"assistant"|"tool", "content": str,
#    "tool_calls": [{"id", "name", "arguments"}],   (assistant)
#    "tool_call_id": str, "name": str,              (tool)
#    "meta": {...}}                                  (harness facts, e.g. test counts; never sent)
Message = dict[str, Any]


class ModelError(Exception):
    """The model could not produce a turn (after any retries); the run ends with outcome error."""


class ModelSpecError(ValueError):
    """An unknown or malformed --model value."""


@dataclass
class Turn:
    text: str = ""
    thinking: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    parse_note: str | None = None
    truth: dict[str, Any] | None = None  # simulated models only: their hidden state
    internal: dict[str, Any] | None = None  # hf: models with vectors: residual-stream readings


@dataclass
class ModelContext:
    """What a model may know about the run before it starts (real models use only `seed`)."""

    run_id: str
    seed: int
    scenario: str
    protected: list[str]
    files: list[str]
    give_up_tool: bool
    reference_patch: str | None = None
    test_command: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # code under test at the start, path -> text


class Model(Protocol):
    name: str

    def start(self, ctx: ModelContext) -> None: ...

    def turn(self, messages: list[Message], tools: list[dict[str, Any]]) -> Turn: ...

    def describe(self) -> dict[str, Any]:
        """The exact request parameters, recorded in run_started."""
        ...

    def close(self) -> None: ...
