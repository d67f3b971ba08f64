"""Model providers, chosen by the `--model` string (see docs/architecture.md)."""
from __future__ import annotations

from testbed.models.base import Model, ModelContext, ModelError, ModelSpecError, Turn

__all__ = ["Model", "ModelContext", "ModelError", "ModelSpecError", "Turn", "load_model",
           "default_model", "KNOWN_PREFIXES"]

KNOWN_PREFIXES = ("simulated", "scripted:")


def default_model() -> str:
    return "simulated"


def load_model(spec: str) -> Model:
    """Build the model a `--model` value names; ModelSpecError if it names none."""
    spec = spec.strip()
    if spec == "simulated" or spec.startswith("simulated:"):
        from testbed.models.simulated import SimulatedModel
        return SimulatedModel.from_spec(spec)
    if spec.startswith("scripted:"):
        from testbed.models.scripted import ScriptedModel
        return ScriptedModel.from_path(spec.split(":", 1)[1])
    raise ModelSpecError(f"unknown model {spec!r}; expected one of: simulated, "
                         "simulated:KEY=VALUE,..., scripted:PATH")
