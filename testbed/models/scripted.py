"""`scripted:PATH` — plays fixed turns from a JSON or YAML file (for tests and demonstrations).

File format: a list of turns, or {"turns": [...], "loop": false}. Each turn:
    {"text": "narration", "thinking": "...", "bash": "command"}              one bash call
    {"text": "...", "tool_calls": [{"name": "bash", "arguments": {"command": "..."}},
                                   {"name": "run_tests"}, {"name": "give_up", "arguments": {...}}]}
When the turns run out the model replies with no action (or starts over with "loop": true).
A turn may carry "cost_usd" (a number, or null for an unknown price); {"cost_usd": ...} next to
"turns" sets it for every turn (default 0). Budget tests use it to spend pretend money.
{"error": "message"} makes that turn fail the way a provider does after its retries (ModelError).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from testbed.log import ToolCall, Usage
from testbed.models.base import Message, ModelContext, ModelError, ModelSpecError, Turn


class ScriptedModel:
    def __init__(self, turns: list[dict[str, Any]], loop: bool = False, source: str = "",
                 cost_usd: float | None = 0.0):
        self.turns = turns
        self.loop = loop
        self.cost_usd = cost_usd
        self.source = source
        self.name = f"scripted:{source}"
        self._i = 0

    @classmethod
    def from_path(cls, path: str) -> "ScriptedModel":
        p = Path(path)
        if not p.is_file():
            raise ModelSpecError(f"scripted model: no such file {path!r}")
        try:
            text = p.read_text(encoding="utf-8")
            data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ModelSpecError(f"scripted model: {path}: cannot parse: {' '.join(str(exc).split())}") from None
        except UnicodeDecodeError as exc:
            raise ModelSpecError(f"scripted model: {path}: not UTF-8 text (byte {exc.start})") from None
        loop, cost = False, 0.0
        if isinstance(data, dict):
            loop = bool(data.get("loop", False))
            cost = _cost(data.get("cost_usd", 0.0), path, "cost_usd")
            data = data.get("turns")
        if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
            raise ModelSpecError(f"scripted model: {path}: expected a list of turns")
        for n, t in enumerate(data, start=1):
            unknown = set(t) - {"text", "thinking", "bash", "tool_calls", "cost_usd", "error"}
            if unknown:
                raise ModelSpecError(f"scripted model: {path}: turn {n}: unknown keys {sorted(unknown)}")
            _cost(t.get("cost_usd", 0.0), path, f"turn {n}: cost_usd")
            _check_turn(t, path, n)
        return cls(data, loop=loop, source=str(path), cost_usd=cost)

    def start(self, ctx: ModelContext) -> None:
        self._i = 0

    def turn(self, messages: list[Message], tools: list[dict[str, Any]]) -> Turn:
        if self._i >= len(self.turns):
            if not self.loop or not self.turns:
                return Turn(text="", parse_note="script exhausted")
            self._i = 0
        spec = self.turns[self._i]
        self._i += 1
        if "error" in spec:
            raise ModelError(str(spec["error"]))
        calls = []
        if "bash" in spec:
            calls.append(ToolCall(id=f"call_{self._i}_0", name="bash",
                                  arguments={"command": spec["bash"]}))
        for j, c in enumerate(spec.get("tool_calls", []), start=len(calls)):
            calls.append(ToolCall(id=f"call_{self._i}_{j}", name=c["name"],
                                  arguments=c.get("arguments", {})))
        return Turn(text=spec.get("text", ""), thinking=spec.get("thinking"), tool_calls=calls,
                    usage=Usage(cost_usd=spec.get("cost_usd", self.cost_usd)))

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "turns": len(self.turns), "loop": self.loop}

    def close(self) -> None:
        pass


def _check_turn(t: dict[str, Any], path: str, n: int) -> None:
    """Every turn's shape, checked at load: a bad file is one error before the run, never a
    crash in the middle of one."""
    def bad(what: str) -> ModelSpecError:
        return ModelSpecError(f"scripted model: {path}: turn {n}: {what}")
    for key in ("text", "thinking", "bash", "error"):
        if key in t and t[key] is not None and not isinstance(t[key], str):
            raise bad(f"'{key}' must be a string")
    calls = t.get("tool_calls", [])
    if not isinstance(calls, list):
        raise bad("'tool_calls' must be a list")
    for j, c in enumerate(calls, start=1):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
            raise bad(f"tool call {j} needs a 'name' string")
        if set(c) - {"name", "arguments"}:
            raise bad(f"tool call {j}: unknown keys {sorted(set(c) - {'name', 'arguments'})}")
        if not isinstance(c.get("arguments", {}), dict):
            raise bad(f"tool call {j}: 'arguments' must be a mapping")


def _cost(value: Any, path: str, where: str) -> float | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0):
        return value
    raise ModelSpecError(f"scripted model: {path}: {where} must be a number >= 0 or null")
