"""`hf:PATH` — an open-weight model run in this process on transformers, so the harness can read
and change its residual stream while it acts.

    hf:local-small-hf                       SmolLM2-135M-Instruct (the `local-small` GGUF, dequantized)
    hf:local-hf@device=cuda,dtype=bfloat16  Qwen2.5-Coder-1.5B-Instruct (the `local` GGUF) on a GPU
    hf:/path/to/model-dir  or  hf:/path/to/file.gguf
    …@vectors=DIR                           record the `internal` channel of every step (see below)
    …@steer=desperate:+4,calm:-2,layers=10-14   add vectors to the residual stream while generating

Prompts are exactly those of `local` (the same chat messages, the shell protocol by default, the
model's own chat template), sampling is seeded per turn, and generation stops right after the
shell block, as with llama.cpp. With vectors, each step's event gets `internal`: the projections
(standard units, testbed.whitebox.vectors) at the vectors' layer at the last prompt position
(`pre`: before the reply starts), averaged over the reply's narration tokens and over its action
tokens (the shell block onward). A position's residual is read when the token there is the input,
so the reply's last token is not included; `testbed probe` reads teacher-forced runs the same way.
Steering adds α × spread × direction of each named vector at every layer of `layers` (default: the
vectors' chosen layer), at every position; `run_started` records it.
"""
from __future__ import annotations

import os
import re
import time
from typing import Any

from testbed.models import protocol
from testbed.models.api import OPTION_TYPES, Reply, split_options
from testbed.models.base import Message, ModelContext, ModelError, ModelSpecError
from testbed.models.compatible import ChatCompletionsModel
from testbed.models.local import LOCAL_MODELS, local_chat_messages
from testbed.models.prices import FREE, Price

HF_OPTIONS = {**OPTION_TYPES, "device": str, "dtype": str, "vectors": str}
_TERM = re.compile(r"^([a-z_][a-z0-9_]*):([+-]?\d+(?:\.\d+)?)$")


def parse_steer(text: str) -> tuple[dict[str, float], tuple[int, int] | None]:
    """`desperate:+4,calm:-2,layers=10-14` → ({"desperate": 4.0, "calm": -2.0}, (10, 14))."""
    terms: dict[str, float] = {}
    layers = None
    for item in filter(None, (p.strip() for p in text.split(","))):
        if item.startswith("layers="):
            m = re.match(r"^layers=(\d+)(?:-(\d+))?$", item)
            if not m:
                raise ModelSpecError(f"steer: expected layers=A-B, got {item!r}")
            a, b = int(m.group(1)), int(m.group(2) or m.group(1))
            if b < a:
                raise ModelSpecError(f"steer: layers={a}-{b} is empty")
            layers = (a, b)
            continue
        m = _TERM.match(item)
        if not m:
            raise ModelSpecError(f"steer: expected NAME:ALPHA (e.g. desperate:+4), got {item!r}")
        terms[m.group(1)] = float(m.group(2))
    if not terms:
        raise ModelSpecError("steer: name at least one vector, e.g. steer=desperate:+4")
    return terms, layers


def split_spec(spec: str) -> tuple[str, dict[str, Any], tuple[dict[str, float], tuple[int, int] | None] | None]:
    """`hf:SOURCE@opts` → (source, options, steer)."""
    rest = spec.split(":", 1)[1] if spec.startswith("hf:") else spec
    steer = None
    if "@" in rest:
        base, _, opts = rest.partition("@")
        kept, steer_items, in_steer = [], [], False
        for item in opts.split(","):
            if item.startswith("steer="):
                in_steer = True
                steer_items.append(item[len("steer="):])
            elif in_steer and (_TERM.match(item) or item.startswith("layers=")):
                steer_items.append(item)
            else:
                in_steer = False
                kept.append(item)
        if steer_items:
            steer = parse_steer(",".join(steer_items))
        rest = f"{base}@{','.join(kept)}" if kept else base
    allowed = set(HF_OPTIONS) - {"reasoning", "summary", "api", "cache", "thinking", "price_in", "price_out",
                                 "text_tools", "timeout", "retries", "retry_base", "retry_cap"}
    source, options = split_options(rest, allowed, HF_OPTIONS)
    if not source:
        raise ModelSpecError("hf: expected hf:PATH (a model directory, a .gguf file, local-hf or local-small-hf)")
    return source, options, steer


class HFModel(ChatCompletionsModel):
    provider = "hf"
    text_tools_default = True
    protocol_default = protocol.SHELL
    sends_seed = True

    def __init__(self, spec: str, source: str, options: dict[str, Any],
                 steer: tuple[dict[str, float], tuple[int, int] | None] | None):
        from testbed.whitebox import weights
        settings = LOCAL_MODELS.get(weights.ALIASES.get(source, ""), LOCAL_MODELS["local"])
        self.source = source
        self.device = options.get("device", "cpu")
        self.dtype = options.get("dtype", "float32")
        self.n_ctx = options.get("context", settings["n_ctx"])
        super().__init__(spec, source, None, {"retries": 1, **options}, key=None, context=self.n_ctx,
                         max_tokens=settings["max_tokens"], default_temperature=settings["temperature"])
        self.window.reserve += 256
        self.threads = options.get("threads")
        try:
            _, self.identity = weights.resolve(source)
        except weights.WeightsError as exc:
            raise ModelSpecError(str(exc)) from None
        self.vectors_dir = options.get("vectors")
        self.vectors: Any = None
        if self.vectors_dir or steer:
            from testbed.whitebox.vectors import EmotionVectors
            if not self.vectors_dir:
                raise ModelSpecError("steer= needs vectors=DIR (made by `testbed vectors build`)")
            try:
                self.vectors = EmotionVectors.load(self.vectors_dir)
            except ValueError as exc:
                raise ModelSpecError(str(exc)) from None
        self.steer_terms, self.steer_layers = steer or ({}, None)
        if self.vectors is not None:
            unknown = [n for n in self.steer_terms if n not in self.vectors.names]
            if unknown:
                raise ModelSpecError(f"steer: no vector {', '.join(unknown)} in {self.vectors_dir} "
                                     f"(has {', '.join(self.vectors.names)})")
        self.loaded: Any = None
        self._steer_ctx: Any = None
        self._turns = 0
        self._cache: Any = None

    def _default_price(self) -> Price | None:
        return FREE

    def _request_params(self) -> dict[str, Any]:
        params = super()._request_params()
        params.pop("base_url", None)
        params.update({"runtime": "transformers", **self.identity, "device": self.device, "dtype": self.dtype,
                       "n_ctx": self.n_ctx, "sampling_seed": "run seed × 1000 + turn"})
        if self.vectors is not None:
            params["vectors"] = {"dir": str(self.vectors_dir), "sha256": self.vectors.digest,
                                 "layer": self.vectors.layer, "names": self.vectors.names}
        if self.steer_terms:
            params["steer"] = {"terms": self.steer_terms, "layers": list(self._layers())}
        return params

    def _layers(self) -> range:
        if self.steer_layers is None:
            return range(self.vectors.layer, self.vectors.layer + 1)
        return range(self.steer_layers[0], self.steer_layers[1] + 1)

    def start(self, ctx: ModelContext) -> None:
        super().start(ctx)
        self._turns = 0
        from testbed.whitebox.cache import PrefixCache
        self._cache = PrefixCache()  # per run: a cache filled under another run's steering is not reused
        if self.loaded is None:
            from testbed.whitebox import weights
            if self.threads:
                import torch
                torch.set_num_threads(self.threads)
            try:
                self.loaded = weights.load(self.source, self.device, self.dtype)
            except (weights.WeightsError, OSError) as exc:
                raise ModelError(f"{self.name}: {exc}") from None
            if self.vectors is not None and self.vectors.directions[self.vectors.names[0]].shape[0] != self.loaded.layers:
                raise ModelError(f"{self.name}: the vectors in {self.vectors_dir} were built for a model with "
                                 f"{self.vectors.directions[self.vectors.names[0]].shape[0]} layers, this one "
                                 f"has {self.loaded.layers}")
        self._close_steer()
        if self.steer_terms:
            self._steer_ctx = steering(self.loaded, self.vectors, self.steer_terms, self._layers())
            self._steer_ctx.__enter__()

    def close(self) -> None:
        self._close_steer()

    def _close_steer(self) -> None:
        if self._steer_ctx is not None:
            self._steer_ctx.__exit__(None, None, None)
            self._steer_ctx = None

    def chat_messages(self, messages: list[Message], tools: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return local_chat_messages(self, messages, tools)

    def _request(self, messages: list[Message], tools: list[dict[str, Any]]) -> Reply:
        if self.loaded is None:
            raise ModelError(f"{self.name}: the model is not loaded (start() first)")
        import torch
        chat, _ = self.chat_messages(messages, tools)
        tok, model = self.loaded.tokenizer, self.loaded.model
        prompt = prompt_ids(tok, chat)
        if len(prompt) + self.max_tokens > self.n_ctx:
            raise _Overflow(f"the prompt is {len(prompt)} tokens; with {self.max_tokens} to generate that "
                            f"exceeds the context length {self.n_ctx}")
        seed = (self._seed_sent() or 0) * 1000 + self._turns
        self._turns += 1
        torch.manual_seed(seed)
        ids = torch.tensor([prompt], device=model.device)
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_tokens, "pad_token_id": tok.eos_token_id}
        temperature = self.temperature if self.temperature is not None else 0.7
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=self.top_p or 1.0)
        else:
            kwargs.update(do_sample=False)
        if self.protocol == protocol.SHELL:
            kwargs.update(stop_strings=list(protocol.STOP), tokenizer=tok)
        capture = None
        past, start = self._cache.reuse(prompt, keep_from=len(prompt) - 1)
        kwargs["cache"] = past
        t0 = time.monotonic()
        with torch.no_grad():
            if self.vectors is not None:
                from testbed.whitebox.hooks import Capture
                capture = Capture(model, [self.vectors.layer])
                with capture:
                    out = model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
            else:
                out = model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
        gen_s = time.monotonic() - t0
        self._cache.holds([int(t) for t in out[0]])
        new = [int(t) for t in out[0][len(prompt):]]
        text, finish = decode_reply(tok, new, self.max_tokens, self.protocol == protocol.SHELL)
        reply = Reply(text=text, input_tokens=len(prompt), output_tokens=len(new), finish_reason=finish)
        if capture is not None:
            hidden = capture.positions(self.vectors.layer).numpy()
            reply.internal = internal_values(self.vectors, hidden, len(prompt) - start, tok, new, "live")
            reply.internal["generation_s"] = round(gen_s, 3)
        return reply


class _Overflow(Exception):
    status_code = 400


def steering(loaded: Any, vectors: Any, terms: dict[str, float], layers: range) -> Any:
    import torch
    from testbed.whitebox.hooks import Steer
    if layers.stop > loaded.layers:
        raise ModelError(f"steer: layers up to {layers.stop - 1}, but the model has {loaded.layers} (0-{loaded.layers - 1})")
    additions = {}
    for layer in layers:
        total = sum(vectors.addition(n, a, layer) for n, a in terms.items())
        additions[layer] = torch.tensor(total, dtype=torch.float32)
    return Steer(loaded.model, additions)


def prompt_ids(tok: Any, chat: list[dict[str, Any]]) -> list[int]:
    ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return [int(i) for i in ids]


def decode_reply(tok: Any, new: list[int], max_tokens: int, shell: bool) -> tuple[str, str]:
    """The reply's text as llama.cpp's server gives it: special tokens and the stop string dropped."""
    text = tok.decode(new, skip_special_tokens=True)
    finish = "length" if len(new) >= max_tokens else "stop"
    if shell:
        for stop in protocol.STOP:
            cut = text.find(stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
                break
    return text.strip(), finish


def action_start(tok: Any, new: list[int]) -> int:
    """How many of the reply's tokens come before its action part (the first fence or call markup)."""
    from testbed.interventions.rewrite import split_action
    text = tok.decode(new, skip_special_tokens=True)
    narration, action = split_action(text)
    if not action:
        return len(new)
    boundary = len(text) - len(action)
    lo, hi = 0, len(new)
    while lo < hi:  # the first token count whose decoded prefix reaches into the action
        mid = (lo + hi) // 2
        if len(tok.decode(new[:mid + 1], skip_special_tokens=True)) > boundary:
            hi = mid
        else:
            lo = mid + 1
    return lo


def internal_values(vectors: Any, hidden: Any, n_prompt: int, tok: Any, new: list[int], source: str) -> dict[str, Any]:
    """The step's `internal` record from the residual at every position the model read: the prompt's
    (n_prompt), then each reply token fed back in (the last one never is)."""
    import numpy as np
    pre = hidden[n_prompt - 1:n_prompt]
    reply = hidden[n_prompt:n_prompt + max(0, len(new) - 1)]
    cut = min(action_start(tok, new), len(reply))
    parts = {"pre": pre, "narration": reply[:cut], "action": reply[cut:]}
    values: dict[str, Any] = {"source": source, "layer": vectors.layer, "vectors_sha256": vectors.digest,
                              "tokens": {"narration": int(cut), "action": int(len(reply) - cut)}}
    for part, rows in parts.items():
        values[part] = ({n: round(float(np.mean(vectors.z(rows, n))), 4) for n in vectors.names}
                        if len(rows) else None)
    return values


def from_spec(spec: str) -> HFModel:
    source, options, steer = split_spec(spec)
    if options.get("dtype", "float32") not in ("float32", "bfloat16", "float16"):
        raise ModelSpecError(f"dtype must be float32, bfloat16 or float16, not {options['dtype']!r}")
    if not (options.get("device", "cpu") == "cpu" or str(options.get("device")).startswith("cuda")):
        raise ModelSpecError(f"device must be cpu or cuda[:N], not {options['device']!r}")
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise ModelSpecError("hf: transformers is not installed: run `make setup`") from None
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return HFModel(spec, source, options, steer)
