"""`testbed vectors build --model hf:… --out DIR` (emotion vectors, testbed/whitebox/vectors.py) and
`testbed probe RUN… --vectors DIR` (the `internal` channel of a finished run, read by teacher
forcing: testbed/whitebox/probe.py)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vectors", help="emotion vectors of an open-weight model (white-box)")
    vsub = p.add_subparsers(dest="vectors_cmd", required=True)
    b = vsub.add_parser("build", help="build desperate/frustrated/calm vectors and a random control")
    b.add_argument("--model", required=True, help="hf:local-small-hf, hf:local-hf, hf:DIR or hf:FILE.gguf")
    b.add_argument("--out", required=True, help="the vectors directory to write (vectors.npz, vectors.json, accuracy.png)")
    b.add_argument("--seed", type=int, default=0, help="cross-validation folds and the random control")
    b.set_defaults(func=build)
    q = sub.add_parser("probe", help="read a finished run's residual stream along emotion vectors (teacher forcing)")
    q.add_argument("runs", nargs="+", help="run directories or ids, or folders holding runs (a batch)")
    q.add_argument("--vectors", required=True, help="a directory made by `testbed vectors build`")
    q.add_argument("--model", default=None, help="the weights to read with (default: those of the run's model)")
    q.add_argument("--runs-dir", default=None)
    q.set_defaults(func=probe)


def build(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.whitebox import vectors, weights
    from testbed.whitebox.provider import split_spec
    from testbed.models.base import ModelSpecError
    if not args.model.startswith("hf:"):
        raise UsageError("--model must be an hf: model (hf:local-small-hf, hf:local-hf, hf:DIR, hf:FILE.gguf)")
    try:
        source, options, _ = split_spec(args.model)
        loaded = weights.load(source, options.get("device", "cpu"), options.get("dtype", "float32"))
    except (weights.WeightsError, ModelSpecError) as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    print(f"building emotion vectors for {source} ({loaded.layers} layers) into {out}/")
    vecs, fig = vectors.build_from_model(loaded, out, seed=args.seed)
    at = fig["at_layer"]
    print(f"chosen layer {fig['layer']}: held-out balanced accuracy " +
          ", ".join(f"{n} {at[n]:.2f}" for n in vecs.names) + f" ({fig['folds']}-fold cross-validation)")
    print(f"wrote {out / vectors.VECTORS_FILE}, {out / vectors.META_FILE}, {out / vectors.PLOT_FILE}")
    return 0


def probe(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.rundata import RunNotFound, resolve_run
    from testbed.whitebox.probe import ProbeError, probe_runs
    from analysis.load import find_run_dirs
    dirs: list[Path] = []
    for r in args.runs:
        folder = Path(r)
        if folder.is_dir() and not (folder / "events.jsonl").is_file():
            found = find_run_dirs([folder])  # a batch directory, or any folder holding runs
            if not found:
                raise UsageError(f"{r}: no run directories in it")
            dirs.extend(found)
            continue
        try:
            dirs.append(resolve_run(r, Path(args.runs_dir) if args.runs_dir else None))
        except RunNotFound as exc:
            raise UsageError(str(exc)) from None
    try:
        for path, n in probe_runs(dirs, Path(args.vectors), args.model):
            print(f"{path}: {n} steps read → {path / 'internal.jsonl'}")
    except ProbeError as exc:
        raise UsageError(str(exc)) from None
    return 0
