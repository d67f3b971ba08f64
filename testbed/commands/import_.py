"""`testbed import FORMAT PATH… --out DIR` — other harnesses' trajectories as run directories.

FORMAT is one of testbed/importers' formats (mini-swe-agent, swe-agent, claude-code,
claude-code-stream, codex, gemini-cli, openhands, inspect, atif) or auto (detect each file). A PATH may
be a file or a directory (searched recursively for the format's file endings). stdout gets one run
directory per imported (or already imported) trajectory, so `testbed score $(testbed import …)`
works; stderr gets one line per file and a summary. A file that cannot be imported gets one error
line naming the file and the position; the rest of the batch goes on. Exit status: 0 when nothing
failed, 1 when some file failed, 2 for bad usage.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from testbed.importers import AUTO, IMPORTERS

    p = sub.add_parser("import", help="import other harnesses' trajectories as run directories")
    p.add_argument("format", metavar="FORMAT", help=f"one of: {', '.join(IMPORTERS)}, {AUTO}")
    p.add_argument("paths", nargs="+", metavar="PATH", help="trajectory files or directories")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="where run directories go (default: $TESTBED_RUNS_DIR or runs/)")
    p.add_argument("--force", action="store_true",
                   help="replace runs imported before from the same file (or an earlier version of it)")
    p.add_argument("--scenario", default=None, help="scenario name to record (default: from the source, "
                   "else 'unknown')")
    p.add_argument("--model", default=None, help="model name to record (default: from the source, else 'unknown')")
    p.add_argument("--no-tests", action="store_true",
                   help="do not turn the agent's own test commands into `tests` events")
    p.add_argument("--quiet", action="store_true", help="only errors and the summary on stderr")
    p.set_defaults(func=run)


@dataclass
class Tally:
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    files: int = 0
    ignored: int = 0
    run_dirs: list[Path] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    from testbed.cli import UsageError
    from testbed.importers import AUTO, IMPORTERS, find_files, get_importer, suffixes_for
    from testbed.importers.writer import ImportIndex

    if args.format != AUTO and args.format not in IMPORTERS:
        raise UsageError(f"unknown format {args.format!r}; choose one of: {', '.join(IMPORTERS)}, {AUTO}")
    out = Path(args.out or os.environ.get("TESTBED_RUNS_DIR", "runs"))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    importer = None if args.format == AUTO else get_importer(args.format)
    suffixes = suffixes_for(args.format)
    tally = Tally()
    todo: list[tuple[Path, bool]] = []  # (file, named on the command line)
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            todo += [(f, False) for f in find_files(path, suffixes)]
        elif path.is_file():
            todo.append((path, True))
        else:
            _err(f"testbed import: error: {path}: no such file or directory")
            tally.failed += 1
    if not todo and not tally.failed:
        raise UsageError(f"no files to import under {', '.join(args.paths)} "
                         f"(looked for names ending {', '.join(suffixes)})")
    index = ImportIndex(out)
    for path, named in todo:
        _import_file(path, named, importer, args, out, index, tally)
    for run_dir in tally.run_dirs:
        print(run_dir)
    sys.stdout.flush()
    summary = (f"testbed import: {tally.imported} imported, {tally.skipped} skipped, {tally.failed} failed "
               f"({tally.files} file{'s' if tally.files != 1 else ''}")
    summary += f", {tally.ignored} other file{'s' if tally.ignored != 1 else ''} passed over)" \
        if tally.ignored else ")"
    _err(summary)
    return 1 if tally.failed else 0


def _import_file(path: Path, named: bool, importer, args: argparse.Namespace, out: Path, index,
                 tally: Tally) -> None:
    from testbed.importers import ImportFormatError, Source, detect
    from testbed.importers.writer import (ImportConflict, file_digest, is_imported_run, run_id_for,
                                          source_key, write_run)

    say = (lambda msg: None) if args.quiet else _err
    source = Source(path)
    written_before_error = 0
    try:
        imp = importer
        if imp is None:
            imp = detect(source)
            # Another program's JSON in a scanned directory is passed over; a file named like a
            # trajectory (.traj.json, .traj, .eval) or a .json that is not even valid JSON (a
            # truncated log, say) is reported, as it would be if its format were named.
            if imp is None and not named and _generic_name(path.name) and \
                    (path.name.endswith(".jsonl") or source.json_error() is None):
                tally.ignored += 1
                return
        tally.files += 1
        if imp is None:
            _raise_if_damaged_json(source)
            raise ImportFormatError(path, None, "not a trajectory of any known format "
                                    f"({_reasons(source)})")
        if importer is not None:
            why = imp.sniff(source)
            if why is not None:
                other = detect(source)
                if other is not None:
                    raise ImportFormatError(path, None, f"not a {imp.name} file: {why}; it looks like a "
                                            f"{other.name} file (use `testbed import {other.name}` or "
                                            "`testbed import auto`)")
                if imp.name != "claude-code":
                    _raise_if_damaged_json(source)
                raise ImportFormatError(path, None, f"not a {imp.name} file: {why}")
        digest = file_digest(source.data)
        episodes = imp.episode_keys(source) if hasattr(imp, "episode_keys") else None
        done = None if args.force else index.already_imported(imp.name, digest, episodes)
        if done:  # the same bytes were imported before: skip without parsing the episodes again
            for run_id in done:
                say(f"skipped {path}: already imported as {run_id}")
                tally.skipped += 1
                tally.run_dirs.append(out / run_id)
            return
        for traj in imp.read(source):
            label = f"{path}" + (f" [{traj.key}]" if traj.key else "")
            if traj.skip or not traj.steps:
                say(f"skipped {label}: {traj.skip or 'no agent turns in it, nothing to import'}")
                tally.skipped += 1
                continue
            run_id = run_id_for(imp.name, digest, traj)
            key = source_key(imp.name, path, traj.key)
            prior = index.by_source.get(key)
            target = out / run_id
            if target.exists() and not args.force:
                say(f"skipped {label}: already imported as {run_id}")
                tally.skipped += 1
                tally.run_dirs.append(target)
                continue
            if prior and prior.run_id != run_id and (out / prior.run_id).exists() and not args.force:
                say(f"skipped {label}: the file changed since it was imported as {prior.run_id}; "
                    "--force replaces that run")
                tally.skipped += 1
                continue
            run_dir = write_run(traj, fmt=imp.name, source_path=path, digest=digest, out_dir=out,
                                run_id=run_id, force=args.force, parse_tests=not args.no_tests,
                                overrides={"scenario": args.scenario, "model": args.model})
            if prior and prior.run_id != run_id and is_imported_run(out / prior.run_id):
                shutil.rmtree(out / prior.run_id)
                say(f"replaced {prior.run_id} (imported from an earlier version of {path})")
            index.add(key, run_id, digest, imp.name, traj.key)
            written_before_error += 1
            tally.imported += 1
            tally.run_dirs.append(run_dir)
            say(f"imported {label} → {run_dir} ({len(traj.steps)} steps, outcome {traj.outcome})")
    except ImportFormatError as exc:
        tally.failed += 1
        more = f" ({written_before_error} earlier episode(s) of it were imported)" if written_before_error else ""
        _err(f"testbed import: error: {exc}{more}")
    except (ImportConflict, OSError) as exc:
        tally.failed += 1
        _err(f"testbed import: error: {path}: {exc}")


def _generic_name(name: str) -> bool:
    """A .json/.jsonl name that no format claims more specifically than by its extension."""
    from testbed.importers import GENERIC_SUFFIXES, all_importers
    specific = {sfx for imp in all_importers() for sfx in imp.suffixes if sfx not in GENERIC_SUFFIXES}
    return name.endswith(GENERIC_SUFFIXES) and not name.endswith(tuple(specific))


def _raise_if_damaged_json(source) -> None:
    """A file that is not even valid JSON is reported by its syntax error, with line and column."""
    if source.is_zip() or source.path.name.endswith((".jsonl", ".ndjson")):
        return
    error = source.json_error()
    if error is not None:
        raise error


def _reasons(source) -> str:
    from testbed.importers import all_importers

    parts = []
    for imp in all_importers():
        why = imp.sniff(source)
        if why:
            parts.append(f"{imp.name}: {why}")
    return "; ".join(parts)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
