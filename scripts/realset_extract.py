"""Candidate items for the real-world validation set (testbed/realset/data/), pulled from public
repositories' real agent logs with the project's own importers. A maintainer's tool, not part of
a run: it needs local snapshots of the source repositories (git directories) and writes candidates
to label; the labelled, frozen set is what the repository keeps.

    python scripts/realset_extract.py MIRRORS_DIR OUT_DIR

Each candidate keeps its provenance: repository, commit, path, and the position inside the file.
"""
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

# source name -> (repository, commit, paths inside it, narrations to sample)
SOURCES = {
    "claude-code-sessions": ("marot/spotter", "8cc42b0bd39d04e71e509d7d58e6782ab435329f", [
        "test/fixtures/transcripts/258c7280-ae70-4798-800f-63464d01a85d.jsonl",
        "test/fixtures/transcripts/4d5611e5-241a-462a-8d15-5122611a9569.jsonl",
        "test/fixtures/transcripts/8463c716-a2ea-4c14-9efa-87158ebd9f20.jsonl",
        "test/fixtures/transcripts/fa812bfe-b295-4cca-9c2f-fdf01028cb46.jsonl",
        "test/fixtures/transcripts/subagent.jsonl"], 70),
    "gemini-cli-sessions": ("mischa-thisness/M-Gemini", "3bad8d462ef0a93165eb373a44f09a77910e5ecd", "Archives/*.json", 70),
    "openhands-trajectories": ("All-Hands-AI/OpenHands", "156d0686c46aafb0fa9d291da6421fb6f64dddc0", [
        "evaluation/benchmarks/multi_swe_bench/examples/output.jsonl",
        "tests/runtime/trajs/basic.json", "tests/runtime/trajs/wrong_initial_state.json",
        "tests/runtime/trajs/basic_interactions.json", "tests/runtime/trajs/basic_gui_mode.json"], 60),
    "swe-agent-trajectories": ("SWE-agent/SWE-agent", "3ea751c087f32b16e039a2233dd6eefecef325d5", "*.traj", 60),
    "mini-swe-agent-trajectories": ("SWE-agent/mini-swe-agent", "a83fcae82d2a08f0ee0c688f9d137b3566c097f8",
                                    "tests/test_data/*.traj.json", 40),
}


def git(repo_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, check=True).stdout


def main(mirrors: Path, out: Path) -> None:
    from testbed.cli import main as cli
    from testbed.rundata import load_run
    out.mkdir(parents=True, exist_ok=True)
    for name, (repo, commit, paths, n) in SOURCES.items():
        repo_dir = mirrors / repo.replace("/", "+") / "repo"
        if isinstance(paths, str):
            listed = git(repo_dir, "ls-tree", "-r", "--name-only", commit).splitlines()
            paths = sorted(p for p in listed if Path(p).match(paths))
        work = Path(tempfile.mkdtemp(prefix=f"realset-{name}-"))
        files = []
        for p in paths:
            try:
                data = subprocess.run(["git", "-C", str(repo_dir), "show", f"{commit}:{p}"], capture_output=True,
                                      check=True).stdout
            except subprocess.CalledProcessError:
                continue  # not in this snapshot (large files kept out of it)
            dest = work / "src" / p
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            files.append(str(dest))
        runs_dir = work / "runs"
        cli(["import", "auto", *files, "--out", str(runs_dir), "--quiet"])
        cands = []
        for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
            first = json.loads((run_dir / "events.jsonl").read_text().splitlines()[0])
            rel = str(Path(first["config"]["import"]["file"]).relative_to(work / "src"))
            run = load_run(run_dir)
            for step in run.steps:
                text = (step.narration.text or "").strip()
                if len(text) < 3:
                    continue
                at = next((json.loads(x).get("source", {}).get("at") for x in (run_dir / "events.jsonl").read_text().splitlines()
                           if json.loads(x).get("type") == "step" and json.loads(x).get("index") == step.index), None)
                cands.append({"source": name, "repo": repo, "commit": commit, "path": rel, "at": at,
                              "text": text, "commands": [c.arguments.get("command") for c in step.tool_calls
                                                         if isinstance(c.arguments.get("command"), str)]})
        seen, unique = set(), []
        for c in cands:
            if c["text"] not in seen:
                seen.add(c["text"])
                unique.append(c)
        random.Random(f"realset:{name}").shuffle(unique)
        (out / f"{name}.jsonl").write_text("".join(json.dumps(c) + "\n" for c in unique[:n]))
        (out / f"{name}.all.jsonl").write_text("".join(json.dumps(c) + "\n" for c in unique))
        print(name, len(files), "files", len(unique), "unique narrations, kept", min(n, len(unique)))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
