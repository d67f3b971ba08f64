"""The labelled tone corpus shipped with the package (`data/train.txt`, `data/heldout.txt`).

Format, one item a line: `LEVEL | FLAGS | TAGS | TEXT` (see the files' headers and docs/tone.md).
The held-out split is fixed by the files themselves; training code reads only `train`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from testbed.scoring.tone.scale import FLAGS

DATA_DIR = Path(__file__).resolve().parent / "data"
SPLITS = ("train", "heldout")


class CorpusError(ValueError):
    pass


@dataclass(frozen=True)
class Item:
    text: str
    level: int
    flags: tuple[str, ...]
    tags: tuple[str, ...]
    line: int


def corpus_path(split: str) -> Path:
    if split not in SPLITS:
        raise CorpusError(f"unknown split {split!r}; expected one of {SPLITS}")
    return DATA_DIR / f"{split}.txt"


def load(split: str, path: Path | None = None) -> list[Item]:
    path = path or corpus_path(split)
    items = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = [p.strip() for p in raw.split(" | ", 3)]
        if len(parts) != 4 or parts[0] not in {"0", "1", "2", "3"} or not parts[3]:
            raise CorpusError(f"{path}:{n}: expected 'LEVEL | FLAGS | TAGS | TEXT' with LEVEL 0-3")
        flags = () if parts[1] == "-" else tuple(sorted(parts[1].split(",")))
        unknown = set(flags) - set(FLAGS)
        if unknown:
            raise CorpusError(f"{path}:{n}: unknown flag(s) {sorted(unknown)}")
        items.append(Item(parts[3], int(parts[0]), flags, tuple(parts[2].split(",")), n))
    return items


def digest(split: str = "train") -> str:
    return hashlib.sha256(corpus_path(split).read_bytes()).hexdigest()
