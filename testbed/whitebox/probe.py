"""`testbed probe`: a finished run's `internal` channel by teacher forcing.

Each step's exact context is rebuilt from the log (testbed/interventions/context.py, checked against
the step's recorded context hash), turned into the chat prompt the model was sent (the same
builder as `local` and `hf:`), and read in one forward pass together with the reply the model
wrote (only the tokens that differ from the step before are run: the key/value cache of the
shared prefix is kept); the projections are those `hf:…@vectors=` records live
(testbed/whitebox/provider.py). Runs of `local` are read with `local-hf`, whose weights are the
same GGUF. The result is a derived file,
`internal.jsonl` in the run directory (one line per step: {"step", "internal"}); the log is never
touched, and probing again replaces the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

INTERNAL_FILE = "internal.jsonl"
RUN_WEIGHTS = {"local": "local-hf", "local-small": "local-small-hf"}


class ProbeError(ValueError):
    pass


def weights_for(run_model: str) -> str:
    base = run_model.split("@", 1)[0]
    if base in RUN_WEIGHTS:
        return RUN_WEIGHTS[base]
    if base.startswith("hf:"):
        return base[3:]
    raise ProbeError(f"the run's model {run_model!r} has no open weights here: give --model hf:…")


def probe_runs(dirs: list[Path], vectors_dir: Path, model: str | None) -> Iterator[tuple[Path, int]]:
    from testbed.rundata import load_run
    from testbed.whitebox import weights
    from testbed.whitebox.vectors import EmotionVectors
    try:
        vectors = EmotionVectors.load(vectors_dir)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    cache: dict[str, Any] = {}
    for d in dirs:
        run = load_run(d)
        source = model[3:] if model and model.startswith("hf:") else (model or weights_for(run.started.model if run.started else ""))
        want = (vectors.meta.get("model") or {}).get("gguf_sha256")
        try:
            if source not in cache:
                cache[source] = weights.load(source)
        except weights.WeightsError as exc:
            raise ProbeError(str(exc)) from None
        loaded = cache[source]
        if want and loaded.identity.get("gguf_sha256") not in (None, want):
            raise ProbeError(f"{vectors_dir} was built on other weights ({want[:12]}) than {source}")
        rows = probe_run(run, loaded, vectors)
        tmp = d / f".{INTERNAL_FILE}.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, d / INTERNAL_FILE)
        yield d, len(rows)


def probe_run(run: Any, loaded: Any, vectors: Any) -> list[dict[str, Any]]:
    import torch
    from testbed.agent.tools import tool_specs
    from testbed.interventions.context import messages_before, spec_of
    from testbed.agent.loop import context_hash
    from testbed.whitebox.cache import PrefixCache
    from testbed.whitebox.hooks import Capture
    from testbed.whitebox.provider import internal_values, prompt_ids
    try:
        spec = spec_of(run)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    request = ((run.started.config or {}).get("request") or {}) if run.started else {}
    from testbed.runner import recorded_sources
    config = (run.started.config or {}) if run.started else {}
    prep = _Prompter(request.get("protocol", "shell"), spec.task.test_command, list(config.get("files") or []),
                     request.get("shell_prompt"), bool(request.get("shell_reminder")),
                     recorded_sources(run.path, config), bool(request.get("collapse_repeats")))
    tools = tool_specs(spec.pressure.give_up_tool)
    tok, model = loaded.tokenizer, loaded.model
    rows = []
    cached = PrefixCache()
    for step in run.steps:
        context = messages_before(run, step.index, spec)
        if step.context_hash and context_hash(context) != step.context_hash:
            raise ProbeError(f"{run.path}: step {step.index}'s context rebuilt from the log does not hash to "
                             "the one the run recorded")
        chat, _ = prep.chat_messages(context, tools)
        prompt = prompt_ids(tok, chat)
        reply = tok(step.narration.text or "", add_special_tokens=False)["input_ids"]
        with Capture(model, [vectors.layer]) as cap:
            start = cached.forward(model, prompt + reply, keep_from=len(prompt) - 1)
        hidden = cap.positions(vectors.layer).numpy()
        rows.append({"step": step.index,
                     "internal": internal_values(vectors, hidden, len(prompt) - start, tok, reply, "probe")})
    return rows


class _Prompter:
    """The prompt side of a local model without its server: what `local`/`hf:` sent. A run is read
    with the prompt it recorded (`config.request.shell_prompt`, with the run's files put in), so runs
    made before a change to the protocol's wording are still read with their own; the format
    reminder and the collapsed repeats only where the run recorded them."""

    def __init__(self, protocol_name: str, test_command: str, files: list[str], recorded_prompt: str | None,
                 shell_reminder: bool, sources: dict[str, str] | None = None, collapse_repeats: bool = False):
        from testbed.models.api import TEXT_RESULT
        self.protocol, self.test_command, self.text_result = protocol_name, test_command, TEXT_RESULT
        self.files, self.recorded_prompt, self.shell_reminder = files, recorded_prompt, shell_reminder
        self.sources = sources or {}
        self.collapse_repeats = collapse_repeats  # only where the run recorded it

    def shell_suffix(self, give_up: bool) -> str:
        from testbed.models import protocol
        if not self.recorded_prompt:
            return protocol.shell_prompt(self.test_command, give_up, self.files, self.sources)
        text = "\n\n" + protocol.fill_recorded(self.recorded_prompt, self.test_command, self.files, self.sources)
        return text if give_up else text.replace(protocol.GIVE_UP_LINE, "")

    def chat_messages(self, messages: list, tools: list) -> tuple[list, list]:
        from testbed.models.local import local_chat_messages
        return local_chat_messages(self, messages, tools)  # type: ignore[arg-type]


def read_internal(run: Any) -> dict[int, dict[str, Any]]:
    """Per step: the live `internal` record, else the probed one."""
    out: dict[int, dict[str, Any]] = {}
    path = Path(run.path) / INTERNAL_FILE
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
                out[int(row["step"])] = row["internal"]
            except (ValueError, KeyError, TypeError):
                continue
    for step in run.steps:
        live = getattr(step, "internal", None)
        if live:
            out[step.index] = live
    return out
