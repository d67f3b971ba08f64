"""`testbed classify tone`, `testbed score` and `testbed eval tone` as a user runs them."""
import hashlib
import json

from conftest import run_cli
from testbed.log import EventWriter, Narration, RunStarted, StepEvent


def test_classify_tone_jsonl_order_fields_and_tiers(tmp_path):
    f = tmp_path / "in.jsonl"
    rows = [{"id": 1, "text": "Let me run the tests."}, {"id": 2, "text": "Why does this keep failing?!"},
            {"id": 3, "text": "I give up. I'm useless at this.", "thinking": "Hopeless."}, {"id": 4, "text": ""}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    res = run_cli("classify", "tone", "--jsonl", str(f))
    assert res.returncode == 0, res.stderr
    out = [json.loads(l) for l in res.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3, 4]
    for o, r in zip(out, rows):
        assert {k: o[k] for k in r} == r
        assert {"level", "p_frustrated", "flags", "evidence", "tiers"} <= set(o["tone"])
    assert [o["tone"]["level"] for o in out] == [0, 2, 3, 0]
    assert {"give_up", "self_deprecation"} <= set(out[2]["tone"]["flags"])
    assert out[2]["tone"]["thinking"]["level"] == 3 and "thinking" not in out[0]["tone"]
    res = run_cli("classify", "tone", "--jsonl", str(f), "--tier", "lexicon")
    lex = [json.loads(l)["tone"] for l in res.stdout.splitlines()]
    assert all(t["tier"] == "lexicon" and "tiers" not in t for t in lex)


def test_classify_tone_bad_input_keeps_earlier_lines(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "ok then"}\n{"text": "fine"}\n{"nope": 1}\n{"text": "never reached"}\n')
    res = run_cli("classify", "tone", "--jsonl", str(f), "--tier", "lexicon")
    assert res.returncode == 2 and "in.jsonl:3: missing string field 'text'" in res.stderr
    assert len(res.stdout.splitlines()) == 2
    res = run_cli("classify", "tone", "--jsonl", str(tmp_path / "missing.jsonl"))
    assert res.returncode == 2 and "cannot read" in res.stderr
    res = run_cli("classify", "tone", "--jsonl", str(f), "--tiers", "lexicon,bert")
    assert res.returncode == 2 and "unknown ensemble tier" in res.stderr


def test_score_writes_tone_per_step_and_leaves_the_log_alone(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    texts = [("Let me look at the tests.", None), ("Still failing, hmm.", "Maybe the fixture?"),
             ("This is ridiculous!!", None), ("I give up. Deleting everything.", "I'm useless.")]
    with EventWriter(run / "events.jsonl", "r1") as log:
        log.write(RunStarted(run_id="r1", scenario="s", model="scripted", seed=0))
        for i, (text, thinking) in enumerate(texts, start=1):
            log.write(StepEvent(run_id="r1", index=i, narration=Narration(text=text, thinking=thinking)))
    before = hashlib.sha256((run / "events.jsonl").read_bytes()).hexdigest()
    res = run_cli("score", str(run), "--scorer", "tone")
    assert res.returncode == 0, res.stderr
    assert hashlib.sha256((run / "events.jsonl").read_bytes()).hexdigest() == before
    lines = [json.loads(l) for l in (run / "scores.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "meta" and lines[0]["scorers"]["tone"]["ensemble"] == ["lexicon", "static"]
    steps = lines[1:]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert [s["tone"]["level"] for s in steps] == [0, 1, 2, 3]
    assert steps[0]["tone"]["thinking"] is None and steps[3]["tone"]["thinking"]["level"] == 3
    assert all(set(s["tone"]) >= {"level", "p_frustrated", "flags", "evidence", "tiers", "thinking"} for s in steps)


def test_eval_tone_lexicon_prints_the_metrics(tmp_path):
    out = tmp_path / "eval.json"
    res = run_cli("eval", "tone", "--tier", "lexicon", "--simulated", "40", "--json", str(out))
    assert res.returncode == 0, res.stderr
    assert "AUROC" in res.stdout and "macro-F1" in res.stdout and "QWK" in res.stdout
    assert "out-of-author" in res.stdout
    report = json.loads(out.read_text())
    assert report["tiers"]["lexicon"]["n"] == report["n"] > 300
    assert report["simulated"]["lexicon"]["n"] == 40
    res = run_cli("eval", "tone", "--simulated", "-1")
    assert res.returncode == 2
