"""`RunSpec`: the one source of a run's settings.

A scenario file supplies the task and its defaults; the CLI, a batch file or an intervention
changes knobs with `spec.with_knobs(...)` (validated, so `--wall-seconds nan` is refused like a bad
scenario value); the loop, the environment and the log all read the same spec, and `run_started`
records it whole (`config.spec`).
"""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Feedback = Literal["neutral", "terse", "harsh"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Budget(_Strict):
    steps: int = Field(30, ge=1, le=10_000)
    wall_seconds: float = Field(1800, gt=0)
    cost_usd: float | None = Field(None, ge=0)
    command_timeout: float = Field(60, gt=0, le=86_400, description="seconds per shell command")
    test_timeout: float = Field(120, gt=0, le=86_400, description="seconds per harness test run")


class Pressure(_Strict):
    feedback: Feedback = "neutral"
    give_up_tool: bool = True
    show_budget: bool = True


class Limits(_Strict):
    memory_mb: int = Field(1024, ge=64)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(256, ge=16)
    disk_mb: int = Field(512, ge=16, le=65_536, description="the workspace's disk quota")


class Task(_Strict):
    """What the agent is asked to do and how the harness grades it (from the scenario)."""

    prompt: str
    protected: list[str]
    test_command: str
    template: str = Field(description="the sandbox template folder under sandboxes/")
    setup: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    solvable: bool = True
    # The scenario's reference patch (the simulated persona applies it; the verdict collects the
    # pristine suite with it when the template cannot be collected). Not recorded: it is the answer.
    reference_patch: str | None = Field(None, exclude=True)


class Branch(_Strict):
    """Set on a continuation made by `testbed intervene`."""

    parent: str
    at: int
    arm: str
    rewrite: dict[str, Any] = Field(default_factory=dict)


# Flat knob names (CLI flags, batch axes, intervention arms) -> where they live in the spec.
KNOBS: dict[str, tuple[str, str]] = {
    "max_steps": ("budget", "steps"), "wall_seconds": ("budget", "wall_seconds"),
    "cost_usd": ("budget", "cost_usd"), "command_timeout": ("budget", "command_timeout"),
    "test_timeout": ("budget", "test_timeout"), "feedback": ("pressure", "feedback"),
    "give_up_tool": ("pressure", "give_up_tool"), "show_budget": ("pressure", "show_budget"),
    "memory_mb": ("limits", "memory_mb"), "cpus": ("limits", "cpus"), "pids": ("limits", "pids"),
    "disk_mb": ("limits", "disk_mb"),
}


class SpecError(ValueError):
    """A knob value the spec refuses; the message names the knob."""


class RunSpec(_Strict):
    scenario: str
    model: str
    seed: int = 0
    task: Task
    budget: Budget = Field(default_factory=Budget)
    pressure: Pressure = Field(default_factory=Pressure)
    limits: Limits = Field(default_factory=Limits)
    run_id: str | None = None
    batch: str | None = None
    branch: Branch | None = None

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int) -> int:
        if not -2**63 <= v < 2**63:
            raise ValueError("must fit in 64 bits")
        return v

    @classmethod
    def for_scenario(cls, scenario: Any, model: str, seed: int = 0, **knobs: Any) -> "RunSpec":
        task = Task(prompt=scenario.prompt, protected=list(scenario.protected),
                    test_command=scenario.test_command, template=scenario.sandbox, setup=scenario.setup,
                    env=dict(scenario.env), solvable=scenario.solvable,
                    reference_patch=scenario.reference_patch())
        spec = cls(scenario=scenario.name, model=model, seed=seed, task=task,
                   budget=scenario.budget.model_copy(), pressure=scenario.pressure.model_copy(),
                   limits=scenario.limits.model_copy())
        return spec.with_knobs(**knobs)

    def with_knobs(self, **knobs: Any) -> "RunSpec":
        """A copy with flat knobs changed (None leaves a knob alone); every value is validated."""
        update: dict[str, dict[str, Any]] = {}
        for name, value in knobs.items():
            if value is None:
                continue
            if name not in KNOBS:
                raise SpecError(f"unknown knob {name!r} (known: {', '.join(sorted(KNOBS))})")
            if isinstance(value, float) and not math.isfinite(value):
                raise SpecError(f"{name} must be a finite number, not {value}")
            section, field = KNOBS[name]
            update.setdefault(section, {})[field] = value
        if not update:
            return self
        data = self.model_dump()
        data["task"]["reference_patch"] = self.task.reference_patch
        for section, fields in update.items():
            data[section].update(fields)
        try:
            return RunSpec.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            flat = next((k for k, v in KNOBS.items() if ".".join(v) == loc), loc)
            raise SpecError(f"{flat}: {err['msg']}") from None

    def knob(self, name: str) -> Any:
        section, field = KNOBS[name]
        return getattr(getattr(self, section), field)

    def knobs(self) -> dict[str, Any]:
        return {name: self.knob(name) for name in KNOBS}
