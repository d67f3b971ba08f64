"""Token prices (`prices.toml`, overridable with TESTBED_PRICES) and the cost of one call."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from testbed.models.base import ModelSpecError

PRICES_FILE = Path(__file__).with_name("prices.toml")
_SNAPSHOT = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    source: str = "table"

    def cost(self, input_tokens: int | None, output_tokens: int | None, cached_input_tokens: int = 0,
             cache_write_tokens: int = 0) -> float | None:
        """`input_tokens` counts every prompt token, cached or not."""
        if input_tokens is None or output_tokens is None:
            return None
        plain = max(0, input_tokens - cached_input_tokens - cache_write_tokens)
        cached = self.input if self.cached_input is None else self.cached_input
        write = self.input if self.cache_write is None else self.cache_write
        usd = (plain * self.input + cached_input_tokens * cached + cache_write_tokens * write
               + output_tokens * self.output) / 1e6
        return round(usd, 8)

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


FREE = Price(input=0.0, output=0.0, source="local model")


def lookup(provider: str, model: str) -> Price | None:
    """The price of `model` at `provider`, or None when it is not in the table (cost unknown)."""
    table = _table().get(provider, {})
    name = model.strip().removeprefix("models/")
    for candidate in (name, _SNAPSHOT.sub("", name)):
        if candidate in table:
            return table[candidate]
    return None


def from_options(input_price: Any, output_price: Any) -> Price:
    try:
        return Price(input=float(input_price), output=float(output_price), source="model spec")
    except (TypeError, ValueError):
        raise ModelSpecError("price_in and price_out must both be numbers (USD per million tokens)") from None


def _table() -> dict[str, dict[str, Price]]:
    return _load(os.environ.get("TESTBED_PRICES", ""))


@lru_cache(maxsize=4)
def _load(override: str) -> dict[str, dict[str, Price]]:
    table = _parse(PRICES_FILE, "table")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ModelSpecError(f"TESTBED_PRICES: no such file {override!r}")
        for provider, models in _parse(path, str(path)).items():
            table.setdefault(provider, {}).update(models)
    return table


def _parse(path: Path, source: str) -> dict[str, dict[str, Price]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ModelSpecError(f"{path}: cannot parse the price table: {exc}") from None
    out: dict[str, dict[str, Price]] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            continue  # as_of and other top-level facts
        for name, entry in models.items():
            try:
                price = Price(input=float(entry["input"]), output=float(entry["output"]),
                              cached_input=_opt(entry.get("cached_input")),
                              cache_write=_opt(entry.get("cache_write")), source=source)
            except (KeyError, TypeError, ValueError):
                raise ModelSpecError(f"{path}: [{provider}.{name!r}] needs numeric input and output "
                                     "prices") from None
            for key in [name, *entry.get("aliases", [])]:
                out.setdefault(provider, {})[key] = price
    return out


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
