"""Which files of a site go into the archive."""
from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

EXCLUDED_NAMES = ("*.map", "*~", "*.swp")
EXCLUDED_DIRS = ("_drafts",)


def collect(site_dir: str | Path) -> list[str]:
    """Relative POSIX paths of the files to publish, sorted."""
    root = Path(site_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file():
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        if any(part in EXCLUDED_DIRS for part in rel.parts[:-1]):
            continue
        if any(fnmatch(rel.name, pattern) for pattern in EXCLUDED_NAMES):
            continue
        out.append(rel.as_posix())
    return sorted(out)
