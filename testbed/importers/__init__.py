"""Importers: other harnesses' trajectories → run directories (`testbed import`).

Each format is one module implementing the `Importer` protocol (testbed/importers/base.py):
`sniff(source)` says whether a file looks like the format, `read(source)` yields its episodes as
`ImportedTrajectory` objects. `testbed/importers/writer.py` writes them as run directories.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from testbed.importers.base import Importer, ImportFormatError, Source

# name -> "module:class"; modules are imported on first use (inspect's needs an optional extra).
IMPORTERS: dict[str, str] = {
    "atif": "testbed.importers.atif:AtifImporter",
    "mini-swe-agent": "testbed.importers.mini_swe_agent:MiniSweAgentImporter",
    "swe-agent": "testbed.importers.swe_agent:SweAgentImporter",
    "codex": "testbed.importers.codex:CodexImporter",
    "claude-code-stream": "testbed.importers.claude_stream:ClaudeStreamImporter",
    "claude-code": "testbed.importers.claude_code:ClaudeCodeImporter",
    "gemini-cli": "testbed.importers.gemini_cli:GeminiCliImporter",
    "openhands": "testbed.importers.openhands:OpenHandsImporter",
    "inspect": "testbed.importers.inspect_eval:InspectImporter",
}
AUTO = "auto"
# Directory scans with `auto` take these endings; `.json` and `.jsonl` files that match no format
# are passed over silently there (they are often something else), never when named on the command line.
GENERIC_SUFFIXES = (".json", ".jsonl")

_cache: dict[str, Importer] = {}


def get_importer(name: str) -> Importer:
    if name not in IMPORTERS:
        raise KeyError(name)
    if name not in _cache:
        module, cls = IMPORTERS[name].split(":")
        _cache[name] = getattr(importlib.import_module(module), cls)()
    return _cache[name]


def all_importers() -> list[Importer]:
    return [get_importer(n) for n in IMPORTERS]


def detect(source: Source) -> Importer | None:
    """The first format whose sniff accepts the file, or None."""
    for imp in all_importers():
        if imp.sniff(source) is None:
            return imp
    return None


def suffixes_for(name: str) -> tuple[str, ...]:
    if name == AUTO:
        out: list[str] = []
        for imp in all_importers():
            out += [s for s in imp.suffixes if s not in out]
        return tuple(out)
    return get_importer(name).suffixes


def find_files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under a directory whose names end with one of the suffixes, sorted; hidden ones skipped."""
    found = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.name.endswith(suffixes):
            found.append(p)
    return found


__all__ = ["IMPORTERS", "AUTO", "Importer", "ImportFormatError", "Source", "get_importer", "detect",
           "all_importers", "suffixes_for", "find_files", "GENERIC_SUFFIXES"]
