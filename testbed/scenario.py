"""Scenario specs: `scenarios/NAME/scenario.toml`, validated with pydantic.

A scenario names a sandbox template (`sandboxes/NAME/`, a small repository), the task prompt, the
protected paths the agent cannot edit, the test command the harness grades with, budgets and
pressure knobs.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from testbed.spec import Budget, Limits, Pressure

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

CATEGORIES = (
    "solvable-subtle",
    "impossible-contradiction",
    "flaky",
    "misleading",
    "broken-environment",
    "nondeterminism",
    "regression-trap",
    "long-horizon",
    "pressure-variant",
    "demo",
)


class ScenarioError(Exception):
    """A scenario that cannot be loaded; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Validation(_Strict):
    """What `testbed scenarios validate` expects; test ids are pytest node ids, and an id without
    `[...]` stands for all of its parametrizations."""

    runs: int = Field(1, ge=1, le=100, description="seeded checker runs per phase (non-flaky)")
    flaky_runs: int = Field(12, ge=2, le=200, description="seeded checker runs for flaky scenarios")
    failing: list[str] | None = Field(None, description="tests that fail on the untouched template")
    still_failing: list[str] | None = Field(
        None, description="tests that still fail after the best-effort patch (impossible scenarios)")
    trap_patch: str | None = Field(None, description="a tempting wrong fix, in the scenario folder")
    trap_failing: list[str] | None = Field(None, description="tests that fail after the trap patch")

    @model_validator(mode="after")
    def _trap(self) -> "Validation":
        if self.trap_failing is not None and not self.trap_patch:
            raise ValueError("trap_failing needs a trap_patch")
        if self.trap_patch and not self.trap_failing:
            raise ValueError("a trap_patch needs trap_failing (the tests it leaves failing)")
        return self


class Scenario(_Strict):
    name: str
    title: str
    description: str
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    tags: list[str] = Field(default_factory=list)
    sandbox: str = Field(description="template folder under sandboxes/")
    prompt: str
    protected: list[str] = Field(min_length=1)
    test_command: str
    solvable: bool
    reference_fix: str | None = Field(
        None, description="patch file in the scenario folder: the fix, or for impossible scenarios "
                          "the best effort")
    variant_of: str | None = Field(
        None, description="the scenario this one repeats with different pressure knobs only")
    flaky: bool = False
    setup: str | None = Field(None, description="shell run in the sandbox before the agent starts")
    env: dict[str, str] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    pressure: Pressure = Field(default_factory=Pressure)
    limits: Limits = Field(default_factory=Limits)
    validation: Validation = Field(default_factory=Validation)

    # Filled in by the loader, not read from the file.
    path: Path | None = Field(None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be lower-case letters, digits and dashes")
        return v

    @field_validator("protected")
    @classmethod
    def _relative(cls, v: list[str]) -> list[str]:
        for p in v:
            if p.startswith("/") or ".." in Path(p).parts:
                raise ValueError(f"protected path {p!r} must be relative to the repository root")
            if not Path(p).parts or Path(p).parts == (".",) or p.strip() in ("", "."):
                raise ValueError(f"protected path {p!r} must name a file or folder inside the repository, "
                                 "not the repository itself")
        return [p.rstrip("/") for p in v]

    @model_validator(mode="after")
    def _fix_needed(self) -> "Scenario":
        if self.solvable and not self.reference_fix:
            raise ValueError("solvable scenarios need a reference_fix patch")
        if self.solvable and self.validation.still_failing is not None:
            raise ValueError("validation.still_failing is for impossible scenarios only")
        if (self.category == "pressure-variant") != (self.variant_of is not None):
            raise ValueError("pressure-variant scenarios name their base in variant_of, and only they do")
        if self.variant_of == self.name:
            raise ValueError("a scenario cannot be a variant of itself")
        return self

    @property
    def folder(self) -> Path:
        assert self.path is not None
        return self.path.parent

    def sandbox_dir(self, root: Path | None = None) -> Path:
        return (root or PROJECT_ROOT) / "sandboxes" / self.sandbox

    def reference_patch(self) -> str | None:
        return (self.folder / self.reference_fix).read_text() if self.reference_fix else None

    def trap_patch(self) -> str | None:
        trap = self.validation.trap_patch
        return (self.folder / trap).read_text() if trap else None


def scenarios_dir() -> Path:
    return Path(os.environ.get("TESTBED_SCENARIOS", PROJECT_ROOT / "scenarios"))


def load_scenario_file(path: Path) -> Scenario:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe(path, exc)) from None
    scenario.path = path.resolve()
    if scenario.name != path.parent.name:
        raise ScenarioError(f"{path}: field 'name': {scenario.name!r} must match its folder "
                            f"{path.parent.name!r}")
    if not scenario.sandbox_dir().is_dir():
        raise ScenarioError(f"{path}: field 'sandbox': no template folder sandboxes/{scenario.sandbox}")
    for p in scenario.protected:
        target = scenario.sandbox_dir() / p
        if not target.exists() or target.is_symlink():
            raise ScenarioError(f"{path}: field 'protected': {p!r} does not exist in sandboxes/{scenario.sandbox}")
    for field_name, name in (("reference_fix", scenario.reference_fix),
                             ("validation.trap_patch", scenario.validation.trap_patch)):
        if name and not (scenario.folder / name).is_file():
            raise ScenarioError(f"{path}: field '{field_name}': no file {name} in the scenario folder")
    return scenario


def _describe(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(file)"
        if err["type"] == "extra_forbidden":
            parts.append(f"field '{loc}': unknown key")
        elif err["type"] == "missing":
            parts.append(f"field '{loc}': missing")
        else:
            parts.append(f"field '{loc}': {err['msg']}")
    return f"{path}: " + "; ".join(parts)


def list_scenarios(root: Path | None = None) -> list[str]:
    root = root or scenarios_dir()
    return sorted(p.parent.name for p in root.glob("*/scenario.toml"))


def load_scenario(name: str, root: Path | None = None) -> Scenario:
    root = root or scenarios_dir()
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.is_file():
        return load_scenario_file(candidate)
    path = root / name / "scenario.toml"
    if not path.is_file():
        known = ", ".join(list_scenarios(root)) or "none"
        raise ScenarioError(f"unknown scenario {name!r} (known: {known})")
    return load_scenario_file(path)
