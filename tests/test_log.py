import json

import pytest

from testbed.log import (EventWriter, LogError, RunFinished, RunStarted, StepEvent, read_events,
                         write_json_atomic)


def _write_some(path, n=3):
    with EventWriter(path, "r1") as w:
        w.write(RunStarted(run_id="", scenario="s", model="m", seed=1))
        for i in range(1, n + 1):
            w.write(StepEvent(run_id="", index=i))
    return path


def test_events_are_appended_with_sequence_numbers(tmp_path):
    path = _write_some(tmp_path / "events.jsonl")
    lines = path.read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [0, 1, 2, 3]
    first = json.loads(lines[0])
    assert first["v"] == 1 and first["run_id"] == "r1" and first["type"] == "run_started"
    assert first["ts"].endswith("Z")
    # a second writer continues the sequence rather than rewriting the file
    with EventWriter(path, "r1") as w:
        w.write(RunFinished(run_id="", outcome="solved"))
    lines2 = path.read_text().splitlines()
    assert lines2[:4] == lines and json.loads(lines2[4])["seq"] == 4


def test_torn_last_line_is_tolerated(tmp_path):
    path = _write_some(tmp_path / "events.jsonl")
    with open(path, "a") as fh:
        fh.write('{"v": 1, "run_id": "r1", "seq": 4, "type": "st')
    res = read_events(path)
    assert res.torn_tail and len(res.events) == 4


def test_bad_line_in_the_middle_is_named_by_number(tmp_path):
    path = _write_some(tmp_path / "events.jsonl")
    lines = path.read_text().splitlines()
    lines.insert(2, "this is not json")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LogError) as err:
        read_events(path)
    assert err.value.line_no == 3 and "line" not in err.value.reason
    assert ":3:" in str(err.value)
    partial = read_events(path, strict=False)
    assert len(partial.events) == 2 and partial.stopped_at_line == 3


def test_unknown_event_types_are_skipped_and_invalid_fields_are_errors(tmp_path):
    # A newer writer may add event types: a good line of an unknown type is skipped (and counted),
    # by this reader and by the analysis's alike (testbed/eventlines.py).
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"v": 1, "run_id": "r", "seq": 0, "type": "nonsense"}) + "\n"
                    + json.dumps({"v": 1, "run_id": "r", "seq": 1, "type": "step", "index": 1}) + "\n")
    res = read_events(path)
    assert [e.type for e in res.events] == ["step"] and res.skipped_unknown == 1
    path.write_text(json.dumps({"run_id": "r", "seq": 0, "type": "step", "index": 1}) + "\n")
    with pytest.raises(LogError, match="'v'"):
        read_events(path)
    path.write_bytes(b'{"v": 1, "run_id": "r", "type": "step", "index": 1, "x": "\xff"}\n')
    with pytest.raises(LogError, match="not UTF-8"):
        read_events(path)
    path.write_text(json.dumps({"v": 1, "run_id": "r", "seq": 0, "type": "step", "index": "x"}) + "\n")
    with pytest.raises(LogError, match="index"):
        read_events(path)


def test_readers_accept_fields_from_newer_writers(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"v": 1, "run_id": "r", "seq": 0, "type": "step", "index": 1,
                                "future_field": {"a": 1}}) + "\n")
    ev = read_events(path).events[0]
    assert ev.index == 1 and ev.future_field == {"a": 1}


def test_atomic_json_write_replaces_whole_file(tmp_path):
    target = tmp_path / "run.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"b": 2})
    assert json.loads(target.read_text()) == {"b": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
