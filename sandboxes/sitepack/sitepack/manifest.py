"""The checksum manifest the CDN verifies after unpacking."""
from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST_NAME = "MANIFEST.txt"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_text(site_dir: str | Path, files: list[str]) -> str:
    """One `SHA256  PATH` line per file (the format of `sha256sum`), in the given order."""
    root = Path(site_dir)
    return "".join(f"{sha256(root / rel)}  {rel}\n" for rel in files)
