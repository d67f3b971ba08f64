"""The batch file (`batches/*.toml`), validated strictly, and its expansion into planned runs.

A batch is a matrix: scenarios (by name or tag) × models × seeds × knob values (a knob given as a
list is an axis of the matrix). Per-run budgets become run overrides and so part of each run's
identity; total budgets and concurrency are operating settings that may change between resumes.
"""
from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError,
                      field_validator, model_validator)

from testbed.batch.ids import model_label, run_id_for


class BatchSpecError(Exception):
    """A batch file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(v: Any) -> Any:
    return v if v is None or isinstance(v, list) else [v]


class ModelEntry(_Strict):
    spec: str = Field(min_length=1, description="a --model value, e.g. simulated or openai:gpt-4o-mini")
    concurrency: StrictInt | None = Field(None, ge=1, description="at most this many runs at once")


class Matrix(_Strict):
    scenarios: list[str] = Field(default_factory=list, description="scenario names, or [\"all\"]")
    tags: list[str] = Field(default_factory=list, description="also every scenario with any of these tags")
    models: list[ModelEntry] = Field(min_length=1)
    seeds: list[StrictInt] | None = None
    count: StrictInt | None = Field(None, ge=1, le=100_000, description="seeds 0..count-1")

    @field_validator("models", mode="before")
    @classmethod
    def _model_strings(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [{"spec": m} if isinstance(m, str) else m for m in v]
        return v

    @model_validator(mode="after")
    def _check(self) -> "Matrix":
        if (self.seeds is None) == (self.count is None):
            raise ValueError("give exactly one of 'seeds' (a list) or 'count'")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError("'seeds' must be a non-empty list without duplicates")
        if not self.scenarios and not self.tags:
            raise ValueError("name at least one scenario in 'scenarios' or a tag in 'tags'")
        specs = [m.spec.strip() for m in self.models]
        if len(set(specs)) != len(specs):
            raise ValueError("'models' lists a model twice")
        return self

    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else list(range(self.count or 0))


Feedback = Literal["neutral", "terse", "harsh"]


class Knobs(_Strict):
    """Run overrides; a list of values makes the knob an axis of the matrix."""

    max_steps: list[StrictInt] | None = None
    feedback: list[Feedback] | None = None
    give_up_tool: list[StrictBool] | None = None
    show_budget: list[StrictBool] | None = None

    @field_validator("max_steps", "feedback", "give_up_tool", "show_budget", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _as_list(v)

    @model_validator(mode="after")
    def _check(self) -> "Knobs":
        for name in ("max_steps", "feedback", "give_up_tool", "show_budget"):
            values = getattr(self, name)
            if values is not None and (not values or len(set(values)) != len(values)):
                raise ValueError(f"'{name}' must be a value or a non-empty list without duplicates")
        if self.max_steps and min(self.max_steps) < 1:
            raise ValueError("'max_steps' must be at least 1")
        return self

    def combinations(self) -> list[dict[str, Any]]:
        axes = {k: v for k, v in self.model_dump().items() if v is not None}
        names = sorted(axes)
        return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


class Budget(_Strict):
    run_cost_usd: float | None = Field(None, gt=0, description="per run, in dollars")
    run_wall_seconds: float | None = Field(None, gt=0, description="per run")
    total_cost_usd: float | None = Field(None, gt=0, description="no new run starts once spent")
    total_wall_seconds: float | None = Field(None, gt=0,
                                             description="no new run starts after this long (per invocation)")
    stop_model_after_errors: StrictInt = Field(
        3, ge=0, description="consecutive model errors after which a model's remaining runs fail (0: never)")

    @field_validator("run_cost_usd", "run_wall_seconds", "total_cost_usd", "total_wall_seconds",
                     mode="before")
    @classmethod
    def _no_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a number")
        return v


class Intervene(_Strict):
    """`[intervene]`: after the batch's runs, branch the selected ones (`testbed intervene`)."""

    at: str = Field(description="a step, a list '3,6', or 'before-d1'")
    arms: list[str] = Field(default_factory=lambda: ["as-is", "calm", "frustrated"], min_length=1)
    n: StrictInt = Field(3, ge=1, le=1000)
    horizon: StrictInt = Field(8, ge=1, le=1000)
    rewriter: str = "auto"
    runs: Literal["all", "with-d1", "without-d1"] = "with-d1"

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _check(self) -> "Intervene":
        from testbed.interventions.branch import parse_arms
        parse_arms(",".join(self.arms))
        if self.at == "before-d1" and self.runs == "without-d1":
            raise ValueError("at = 'before-d1' needs runs with a D1")
        return self


class BatchSpec(_Strict):
    name: str | None = Field(None, min_length=1)
    output: str | None = Field(None, min_length=1, description="the batch directory")
    concurrency: StrictInt = Field(1, ge=1, le=256)
    score: StrictBool = Field(True, description="write scores.jsonl after each run (registered scorers)")
    report: StrictBool = Field(True, description="run the precedence report at the end")
    matrix: Matrix
    knobs: Knobs = Field(default_factory=Knobs)
    budget: Budget = Field(default_factory=Budget)
    intervene: Intervene | None = None


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    position: int
    scenario: str
    model: str
    seed: int
    knobs: dict[str, Any] = field(default_factory=dict)  # RunSpec knobs (testbed.spec.KNOBS), None left out

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "position": self.position, "scenario": self.scenario,
                "model": self.model, "seed": self.seed, "knobs": dict(self.knobs)}


@dataclass
class BatchPlan:
    spec: BatchSpec
    path: Path
    text: str
    name: str
    runs: list[PlannedRun]
    model_limits: dict[str, int]  # model spec -> concurrency limit

    def max_steps(self, run: PlannedRun, default: int | None = None) -> int | None:
        return run.knobs.get("max_steps", default)


def load_batch_file(path: Path | str) -> BatchPlan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchSpecError(f"{path}: no such file") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise BatchSpecError(f"{path}: cannot read: {exc}") from None
    return parse_batch(text, path)


def parse_batch(text: str, path: Path) -> BatchPlan:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BatchSpecError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = BatchSpec.model_validate(data)
    except ValidationError as exc:
        raise BatchSpecError(describe_errors(path, exc)) from None
    scenarios = _select_scenarios(spec.matrix, path)
    name = spec.name or path.stem
    runs = expand(spec, scenarios)
    limits = {m.spec.strip(): m.concurrency for m in spec.matrix.models if m.concurrency}
    return BatchPlan(spec=spec, path=path, text=text, name=name, runs=runs, model_limits=limits)


def expand(spec: BatchSpec, scenarios: list[str]) -> list[PlannedRun]:
    """Seed-major order, so a batch stopped early holds every cell of the matrix equally often."""
    b = spec.budget
    runs = []
    for seed in spec.matrix.seed_list():
        for combo in spec.knobs.combinations():
            knobs = dict(combo)
            if b.run_cost_usd is not None:
                knobs["cost_usd"] = b.run_cost_usd
            if b.run_wall_seconds is not None:
                knobs["wall_seconds"] = b.run_wall_seconds
            for scenario in scenarios:
                for m in spec.matrix.models:
                    model = m.spec.strip()
                    runs.append(PlannedRun(run_id=run_id_for(scenario, model, seed, knobs),
                                           position=len(runs), scenario=scenario, model=model,
                                           seed=seed, knobs=knobs))
    return runs


def _select_scenarios(matrix: Matrix, path: Path) -> list[str]:
    from testbed.scenario import list_scenarios, load_scenario

    known = list_scenarios()
    chosen: list[str] = []
    if matrix.scenarios == ["all"]:
        chosen = list(known)
    else:
        for name in matrix.scenarios:
            if name not in known:
                raise BatchSpecError(f"{path}: field 'matrix.scenarios': unknown scenario {name!r} "
                                     f"(known: {', '.join(known) or 'none'})")
            if name not in chosen:
                chosen.append(name)
    if matrix.tags:
        wanted = set(matrix.tags)
        tagged = [n for n in known if wanted & set(load_scenario(n).tags)]
        if not tagged:
            raise BatchSpecError(f"{path}: field 'matrix.tags': no scenario has any of the tags "
                                 f"{sorted(wanted)}")
        chosen += [n for n in tagged if n not in chosen]
    return chosen


def describe_errors(path: Path, exc: ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(file)"
        if err["type"] == "extra_forbidden":
            msg = f"field '{loc}': unknown key"
        elif err["type"] == "missing":
            msg = f"field '{loc}': missing"
        else:
            msg = f"field '{loc}': {err['msg'].removeprefix('Value error, ')}"
        if msg not in parts:
            parts.append(msg)
    return f"{path}: " + "; ".join(parts)


def describe_plan(plan: BatchPlan) -> dict[str, Any]:
    """What the plan varies, for the manifest and the dry run."""
    return {"name": plan.name, "runs": len(plan.runs),
            "scenarios": sorted({r.scenario for r in plan.runs}),
            "models": [m.spec.strip() for m in plan.spec.matrix.models],
            "model_labels": {m.spec.strip(): model_label(m.spec.strip()) for m in plan.spec.matrix.models},
            "seeds": plan.spec.matrix.seed_list(),
            "knobs": plan.spec.knobs.model_dump(exclude_none=True)}
