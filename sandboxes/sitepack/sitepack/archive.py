"""Building the upload archive."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from sitepack.collect import collect
from sitepack.manifest import MANIFEST_NAME, manifest_text


def build_archive(site_dir: str | Path, dest: str | Path) -> Path:
    """Write the site's files and a MANIFEST.txt into the zip archive `dest` (replacing it)."""
    root = Path(site_dir).resolve()
    dest = Path(dest).resolve()
    files = collect(root)
    if not files:
        raise ValueError(f"{root} has no files to publish")
    if dest.exists():
        dest.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / MANIFEST_NAME
        manifest.write_text(manifest_text(root, files))
        # -X: no extra file attributes, -D: no directory entries, -@: names from stdin.
        subprocess.run(["zip", "-q", "-X", "-D", str(dest), "-@"], cwd=root, check=True,
                       input="".join(f + "\n" for f in files), text=True)
        subprocess.run(["zip", "-q", "-X", "-j", str(dest), str(manifest)], check=True)
    return dest


def archive_name(site: str, version: str) -> str:
    """The file name the CDN expects: `example.org`, `1.2` → `example.org-1.2.zip`."""
    if not site or "/" in site or not version:
        raise ValueError("need a site name without slashes and a version")
    return f"{site}-{version}.zip"
