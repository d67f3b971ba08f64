"""Reuse of the key/value cache across an agent's turns.

Turn t+1's prompt is turn t's prompt, the reply and one more observation, so almost all of it has
been read before. `PrefixCache` keeps the cache of the last sequence a model read and, for the next
one, crops it to the tokens the two share, so only the new tokens are run: what makes `hf:` steps
and `testbed probe` cost the new turn instead of the whole context. Steering hooks add the same
vector at every position in every call, so a cache filled under them stays valid for the run.
"""
from __future__ import annotations

from typing import Any


class PrefixCache:
    def __init__(self) -> None:
        self.ids: list[int] = []
        self.past: Any = None

    def reuse(self, ids: list[int], keep_from: int) -> tuple[Any, int]:
        """(cache, start): a cache holding `ids[:start]`, where `start` is at most `keep_from` so
        that every position from there on is computed again (and seen by the forward hooks)."""
        from transformers import DynamicCache
        shared = 0
        for a, b in zip(self.ids, ids):
            if a != b:
                break
            shared += 1
        shared = max(0, min(shared, keep_from, len(ids) - 1))
        if self.past is None or shared == 0:
            self.past, shared = DynamicCache(), 0
        elif self.past.get_seq_length() > shared:
            self.past.crop(shared - self.past.get_seq_length())  # transformers 5: crop(-n) drops n tokens
        self.ids = [int(i) for i in ids[:shared]]  # until holds() says more
        return self.past, shared

    def holds(self, ids: list[int]) -> None:
        """Record what the cache now holds: the first `get_seq_length()` tokens of `ids`."""
        self.ids = [int(i) for i in ids[:self.past.get_seq_length()]] if self.past is not None else []

    def forward(self, model: Any, ids: list[int], keep_from: int) -> int:
        """One forward pass over `ids` that runs only what is not cached; returns the first position run."""
        import torch
        past, start = self.reuse(ids, keep_from)
        with torch.no_grad():
            model(input_ids=torch.tensor([ids[start:]], device=model.device), cache=past, use_cache=True)
        self.holds(ids)
        return start
