"""Deterministic run ids: the same (scenario, model, seed, knobs) always names the same run, so a
resumed batch recognises what it already did and never runs anything twice."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import PurePath
from typing import Any, Iterable

from testbed.runner import slug


def model_label(spec: str) -> str:
    """A short readable form of a model spec: paths reduced to their file stem."""
    head, _, rest = spec.partition(":")
    if "/" in rest and not re.match(r"^https?://", rest):
        rest = PurePath(rest).stem
    return slug(f"{head} {rest}")[:24].strip("-") or "model"


def run_key(scenario: str, model: str, seed: int, knobs: dict[str, Any]) -> str:
    """The canonical identity of a run (knobs with value None are the scenario's own defaults)."""
    clean = {k: v for k, v in sorted(knobs.items()) if v is not None}
    return json.dumps({"scenario": scenario, "model": model, "seed": seed, "knobs": clean},
                      sort_keys=True, separators=(",", ":"))


def run_id_for(scenario: str, model: str, seed: int, knobs: dict[str, Any]) -> str:
    digest = hashlib.sha256(run_key(scenario, model, seed, knobs).encode()).hexdigest()[:10]
    return f"{slug(scenario)[:32].strip('-')}-{model_label(model)}-s{seed}-{digest}"


def plan_hash(run_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(run_ids)).encode()).hexdigest()[:16]


def new_batch_id(name: str) -> str:
    return f"{slug(name)[:32].strip('-')}-{secrets.token_hex(4)}"
