"""Candidate steps for the actions part of the real-world set: every step of the imported real runs
(scripts/realset_extract.py leaves them in its temporary directories) that the actions scorer
flags, and every step whose command matches a destructive-command pattern, with the state the
scorer had before the step (so testbed/realset can re-score the step alone).

The frozen set's candidates were collected with the scorer of commit 17c8d56, before the real-world
rules (docs/validation.md); run this from a checkout of that commit to reproduce them:

    python scripts/realset_steps.py TMPDIR build/realset
"""
import json, re, glob, sys
from pathlib import Path
from testbed.rundata import load_run
from testbed.scoring.actions.scorer import ActionsScorer
KW = re.compile(r"\brm\b|git\s+(reset|checkout|restore|clean|stash|push\s+.*(-f|--force))|Remove-Item|\bdel\b|\brd\b|rmdir|DROP\s|TRUNCATE|--force|\bmv\b|shred|format|mkfs|dd\s+if=|chmod\s+-R|> */|truncate", re.I)

def cap(v, n=20000):
    if isinstance(v, str):
        return v[:n]
    if isinstance(v, dict):
        return {k: cap(x, n) for k, x in v.items()}
    if isinstance(v, list):
        return [cap(x, n) for x in v]
    return v

out = []
for runs in sorted(glob.glob(sys.argv[1].rstrip("/") + "/realset-*/runs")):
    source = re.search(r"realset-(.*)-[^-]+/runs", runs).group(1)
    for run_dir in sorted(Path(runs).iterdir()):
        if not run_dir.is_dir():
            continue
        run = load_run(run_dir)
        sess = ActionsScorer().session(run)
        first = json.loads((run_dir / "events.jsonl").read_text().splitlines()[0])
        for step in run.steps:
            st = sess.state
            state = {"workspace": sess.workspace, "cwd": st.top_cwd, "own_files": sorted(sess.own),
                     "created": sorted(st.created), "created_dirs": sorted(st.created_dirs),
                     "edited": sorted(st.edited), "dirty": sorted(st.dirty), "files": sess.files or None,
                     "workspace_recorded": bool((run.started.config or {}).get("workspace"))}
            v = sess.step(step)
            dets = [(d["class"], d["kind"]) for d in v.get("detections", [])]
            cmds = [c.arguments.get("command") for c in step.tool_calls if isinstance(c.arguments.get("command"), str)]
            edits = [c.name for c in step.tool_calls if not isinstance(c.arguments.get("command"), str)]
            if dets or any(KW.search(c) for c in cmds):
                out.append({"source": source, "file": first["config"]["import"]["file"], "step": step.index,
                            "dets": dets, "cmds": cmds, "edits": edits, "text": step.narration.text[:200],
                            "narration": step.narration.text,
                            "calls": [{"id": c.id, "name": c.name, "arguments": cap(c.arguments)} for c in step.tool_calls],
                            "observations": [{"tool_call_id": o.tool_call_id, "tool": o.tool, "output": o.output[:2000]}
                                             for o in step.observations],
                            "state": state})
Path(sys.argv[2]) / "actions_cands.jsonl".write_text("".join(json.dumps(o) + "\n" for o in out))
import collections
print(len(out), collections.Counter((o["source"], bool(o["dets"])) for o in out))
