"""Model providers, chosen by the `--model` string (see docs/models.md)."""
from __future__ import annotations

import os

from testbed.models.base import Model, ModelContext, ModelError, ModelSpecError, Turn

__all__ = ["Model", "ModelContext", "ModelError", "ModelSpecError", "Turn", "load_model",
           "default_model", "default_model_reason", "KNOWN_PREFIXES", "API_KEYS"]

KNOWN_PREFIXES = ("simulated", "scripted:", "local", "local-small", "openai:", "anthropic:",
                  "openai-compatible:", "gemini:", "hf:")

# The hosted model used by default when its key is set (checked in this order); without any key the
# default is the offline `local` model.
API_KEYS = (("OPENAI_API_KEY", "openai:gpt-5-mini"),
            ("ANTHROPIC_API_KEY", "anthropic:claude-haiku-4-5"),
            ("GEMINI_API_KEY", "gemini:gemini-2.5-flash"))


def default_model() -> str:
    return default_model_reason()[0]


def default_model_reason() -> tuple[str, str]:
    """(the default model spec, why it is the default)."""
    chosen = os.environ.get("TESTBED_MODEL", "").strip()
    if chosen:
        return chosen, "TESTBED_MODEL is set"
    for var, spec in API_KEYS:
        if os.environ.get(var, "").strip():
            return spec, f"{var} is set"
    names = ", ".join(var for var, _ in API_KEYS)
    return "local", f"no API key is configured ({names} are unset), so the offline local model runs"


def load_model(spec: str) -> Model:
    """Build the model a `--model` value names; ModelSpecError if it names none."""
    spec = spec.strip()
    if spec == "simulated" or spec.startswith("simulated:"):
        from testbed.models.simulated import SimulatedModel
        return SimulatedModel.from_spec(spec)
    if spec.startswith("scripted:"):
        from testbed.models.scripted import ScriptedModel
        return ScriptedModel.from_path(spec.split(":", 1)[1])
    if spec.split("@", 1)[0] in ("local", "local-small"):
        from testbed.models import local
        return local.from_spec(spec)
    if spec.startswith("openai-compatible:"):
        from testbed.models import compatible
        return compatible.from_spec(spec)
    if spec.startswith("openai:"):
        from testbed.models import openai_api
        return openai_api.from_spec(spec)
    if spec.startswith("anthropic:"):
        from testbed.models import anthropic_api
        return anthropic_api.from_spec(spec)
    if spec.startswith("hf:"):
        from testbed.whitebox import provider
        return provider.from_spec(spec)
    if spec.startswith("gemini:"):
        from testbed.models import gemini
        return gemini.from_spec(spec)
    raise ModelSpecError(f"unknown model {spec!r}; expected one of: simulated, simulated:KEY=VALUE,..., "
                         "scripted:PATH, local, local-small, openai:MODEL, anthropic:MODEL, "
                         "openai-compatible:BASE_URL:MODEL, gemini:MODEL, hf:PATH|local-hf|local-small-hf (options: MODEL@key=value,...)")
