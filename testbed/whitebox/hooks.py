"""Plain forward hooks on the decoder layers: read the residual stream, or add to it.

The residual stream "at layer L" is the output of decoder layer L (transformers' hidden_states[L + 1]).
`Capture` keeps, per forward call, the last-dimension vectors of chosen layers; `Steer` adds
`alpha × scale × direction` to a layer's output at every position while it is registered. Both are
context managers and remove their hooks on exit, also after an exception.
"""
from __future__ import annotations

from typing import Any


def decoder_layers(model: Any) -> list[Any]:
    """The decoder blocks of a causal LM (Llama, Qwen2, Mistral, Gemma and the like)."""
    for path in ("model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return list(obj)
    raise ValueError(f"{type(model).__name__}: no decoder layers found (model.layers, transformer.h, ...)")


def _hidden(output: Any) -> Any:
    return output[0] if isinstance(output, (tuple, list)) else output


class Capture:
    """Records the output of the given layers on every forward call: `chunks[layer]` is a list of
    (seq, hidden) float32 CPU tensors of batch row 0, in call order (prefill, then one per token)."""

    def __init__(self, model: Any, layers: list[int]):
        self.model, self.layers = model, sorted(set(layers))
        self.chunks: dict[int, list[Any]] = {layer: [] for layer in self.layers}
        self._handles: list[Any] = []

    def __enter__(self) -> "Capture":
        blocks = decoder_layers(self.model)
        for layer in self.layers:
            self._handles.append(blocks[layer].register_forward_hook(self._hook(layer)))
        return self

    def _hook(self, layer: int) -> Any:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            self.chunks[layer].append(_hidden(output)[0].detach().float().cpu())
        return hook

    def positions(self, layer: int) -> Any:
        """Every position seen at `layer`, concatenated: (positions, hidden)."""
        import torch
        return torch.cat(self.chunks[layer], dim=0)

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


class Steer:
    """Adds vectors to the residual stream: `additions[layer]` is a (hidden,) tensor added to that
    layer's output at every position (prompt and generated tokens alike)."""

    def __init__(self, model: Any, additions: dict[int, Any]):
        self.model, self.additions = model, additions
        self._handles: list[Any] = []

    def __enter__(self) -> "Steer":
        blocks = decoder_layers(self.model)
        for layer, vec in self.additions.items():
            self._handles.append(blocks[layer].register_forward_hook(self._hook(vec)))
        return self

    @staticmethod
    def _hook(vec: Any) -> Any:
        def hook(_module: Any, _inputs: Any, output: Any) -> Any:
            h = _hidden(output)
            h = h + vec.to(device=h.device, dtype=h.dtype)
            if isinstance(output, tuple):
                return (h, *output[1:])
            if isinstance(output, list):
                return [h, *output[1:]]
            return h
        return hook

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
