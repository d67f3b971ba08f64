"""The sandbox base image: built once, tagged by a hash of its recipe, reused after that.

`docker build` from `sandboxes/base/Dockerfile` when a registry answers; otherwise the same
contents are built offline with debootstrap and `docker import` (`sandboxes/base/build-offline.sh`).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from testbed.scenario import PROJECT_ROOT
from testbed.sandbox.docker import SandboxError, docker_client

RECIPE_DIR = PROJECT_ROOT / "sandboxes" / "base"
IMAGE_REPO = "testbed-base"


def recipe_hash() -> str:
    h = hashlib.sha256()
    for name in ("Dockerfile", "setup-user.sh", "build-offline.sh"):
        h.update(name.encode() + b"\0" + (RECIPE_DIR / name).read_bytes())
    return h.hexdigest()[:12]


def image_tag() -> str:
    return os.environ.get("TESTBED_IMAGE") or f"{IMAGE_REPO}:{recipe_hash()}"


def image_exists(tag: str) -> bool:
    client = docker_client()
    try:
        client.images.get(tag)
        return True
    except Exception:
        return False


def ensure_image(quiet: bool = False) -> str:
    """Return the base image tag, building the image first if it is not there."""
    tag = image_tag()
    if image_exists(tag):
        return tag
    log = (lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    log(f"building sandbox base image {tag} ...")
    if os.environ.get("TESTBED_OFFLINE_IMAGE") != "1" and _registry_build(tag, log):
        return tag
    log("no registry answered: building the base image offline (debootstrap, ~1 min)")
    proc = subprocess.run(["sh", str(RECIPE_DIR / "build-offline.sh"), tag], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SandboxError(f"offline base image build failed:\n{proc.stderr[-3000:]}")
    log(proc.stdout.strip())
    return tag


def _registry_build(tag: str, log) -> bool:
    try:
        proc = subprocess.run(["docker", "build", "-q", "-t", tag, str(RECIPE_DIR)],
                              capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if proc.returncode == 0:
        log(f"built {tag} from the registry image")
        return True
    return False


if __name__ == "__main__":
    print(ensure_image())
