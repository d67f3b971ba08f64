"""Open weights for the white-box tools: a local Hugging Face directory, or a GGUF file that
transformers dequantizes (once; the result is cached as safetensors next to the GGUF cache).

`local-hf` and `local-small-hf` name the GGUF files the project already ships (`local`, `local-small`
in testbed.models.assets): the same weights llama.cpp serves, so `testbed probe` can read the inside
of a `local` run. A GGUF is identified by its sha256; the cache directory carries it, so a changed
file never reuses a stale conversion. Loading a cached conversion of SmolLM2-135M takes ~2 s,
converting it ~15 s; Qwen2.5-Coder-1.5B ~55 s to convert (measured on 2 cores).
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.models import assets

ALIASES = {"local-hf": "local", "local-small-hf": "local-small"}
DTYPES = ("float32", "bfloat16", "float16")


class WeightsError(ValueError):
    """The weights cannot be found or loaded."""


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    source: str              # what was asked for: an alias, a directory or a .gguf path
    identity: dict[str, Any]  # recorded with runs and vectors: which weights exactly

    @property
    def layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden(self) -> int:
        return int(self.model.config.hidden_size)


def hf_cache_dir() -> Path:
    return assets.cache_dir().parent / "hf"


def resolve(source: str) -> tuple[Path, dict[str, Any]]:
    """(a directory transformers can load, identity) for an alias, an HF directory or a GGUF file."""
    if source in ALIASES:
        name = ALIASES[source]
        path = assets.ready(name)
        if path is None:
            raise WeightsError(f"{source}: the model file of `{name}` is not set up: run "
                               f"`.venv/bin/python -m testbed.models.assets ensure {name}`")
        asset = assets.ASSETS[name]
        return _converted(path, asset.sha256), {"weights": source, "gguf": asset.filename,
                                                "gguf_sha256": asset.sha256, "title": asset.title}
    p = Path(source).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise WeightsError(f"{p}: not a Hugging Face model directory (no config.json)")
        return p, {"weights": str(p), "config_sha256": assets.sha256_file(p / "config.json")}
    if p.is_file() and p.suffix == ".gguf":
        digest = assets.sha256_file(p)
        return _converted(p, digest), {"weights": str(p), "gguf": p.name, "gguf_sha256": digest}
    raise WeightsError(f"hf:{source}: expected local-hf, local-small-hf, a model directory or a .gguf file")


def load(source: str, device: str = "cpu", dtype: str = "float32") -> Loaded:
    if dtype not in DTYPES:
        raise WeightsError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    _quiet()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WeightsError("device=cuda asked for, but torch sees no GPU (the CPU build of torch is installed)")
    path, identity = resolve(source)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype))
    model.to(device).eval()
    identity = {**identity, "device": device, "dtype": dtype, "transformers": _version("transformers"),
                "torch": torch.__version__}
    return Loaded(model, tokenizer, source, identity)


def _converted(gguf: Path, digest: str) -> Path:
    """The safetensors conversion of a GGUF file, made once (under a lock) and reused."""
    out = hf_cache_dir() / f"{gguf.stem}-{digest[:16]}"
    if (out / "testbed-converted.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "testbed-converted.json").is_file():
            return out
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        _quiet()
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        try:
            tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            # float16 holds the dequantized 4-bit values (scale × small integer) closely at half
            # the disk of float32; models load in the dtype a run asks for.
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                         dtype=torch.float16)
            # transformers marks a GGUF-loaded model as quantized and refuses to save it, though its
            # weights are plain dequantized tensors by now
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.is_quantized = False
            model.save_pretrained(str(tmp))
            tok.save_pretrained(str(tmp))
            (tmp / "testbed-converted.json").write_text(json.dumps(
                {"from": gguf.name, "gguf_sha256": digest, "dtype": "float16",
                 "transformers": _version("transformers")}, indent=2))
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return out


def _quiet() -> None:
    """transformers' progress bars and advisory warnings would bury the run's own lines."""
    from transformers.utils import logging as tlog
    tlog.disable_progress_bar()
    tlog.set_verbosity_error()


def _version(package: str) -> str:
    try:
        from importlib.metadata import version
        return version(package)
    except Exception:
        return "unknown"
