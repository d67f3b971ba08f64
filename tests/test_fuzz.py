"""Property-based fuzzing of everything that reads input from outside: the event readers, the
scenario loader, the scripted-model loader, the command parser and the importers. Each must answer
any input with its own one-line error type (or a result), never a crash. The case counts are the
ones docs/reliability.md reports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.log import LogError, read_events

CASES = 300  # per property; docs/reliability.md reports 300 × 8 properties
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                     lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                     children, max_size=4),
                     max_leaves=12)
_event_keys = st.sampled_from(["v", "run_id", "seq", "ts", "type", "index", "step", "narration", "tool_calls",
                               "observations", "outcome", "scenario", "model", "passed", "failed"])
_eventish = st.dictionaries(_event_keys, _json | st.sampled_from(
    ["step", "tests", "run_started", "run_finished", "notice", "truth", "error", "mystery", 1, "x"]), max_size=8)


def _line(obj) -> bytes:
    return json.dumps(obj).encode()


_lines = st.lists(st.one_of(_eventish.map(_line), st.binary(max_size=40), st.text(max_size=40).map(str.encode)),
                  max_size=8)


@FUZZ
@given(lines=_lines, terminated=st.booleans())
def test_event_readers_agree_and_never_crash(tmp_path_factory, lines, terminated):
    from analysis.load import RunReadError, _objects
    d = tmp_path_factory.mktemp("log")
    data = b"\n".join(lines) + (b"\n" if terminated and lines else b"")
    (d / "events.jsonl").write_bytes(data)
    try:
        strict_ok = True
        strict = read_events(d / "events.jsonl", strict=True).events
    except LogError as exc:
        strict_ok, strict = False, None
        assert "\n" not in str(exc)
    lenient = read_events(d / "events.jsonl", strict=False)
    assert (lenient.error is None) == strict_ok
    try:
        fast, _, _ = _objects(d / "events.jsonl", check_header=True)
        fast_ok = True
    except RunReadError:
        fast_ok = False
    # One definition of a bad line: the analysis reader refuses exactly what the pydantic reader
    # refuses, except lines whose header is good but whose body pydantic rejects (a wrong field type).
    if fast_ok is False:
        assert not strict_ok
    if strict_ok:
        assert fast_ok and [e["type"] for e in fast] == [e.type for e in strict]


_toml_values = st.one_of(st.text(max_size=15).map(json.dumps), st.integers().map(str), st.booleans().map(
    lambda b: str(b).lower()), st.lists(st.text(max_size=8), max_size=3).map(json.dumps))
_keys = st.sampled_from(["name", "title", "description", "category", "sandbox", "prompt", "protected",
                         "test_command", "solvable", "reference_fix", "tags", "flaky", "setup", "extra"])


@FUZZ
@given(pairs=st.lists(st.tuples(_keys, _toml_values), max_size=10), junk=st.binary(max_size=30))
def test_scenario_loader_answers_with_one_error(tmp_path_factory, pairs, junk):
    from testbed.scenario import ScenarioError, load_scenario_file
    d = tmp_path_factory.mktemp("scenarios") / "fuzzed"
    d.mkdir()
    body = "\n".join(f"{k} = {v}" for k, v in dict(pairs).items()).encode() + b"\n" + junk
    (d / "scenario.toml").write_bytes(body)
    try:
        load_scenario_file(d / "scenario.toml")
    except ScenarioError as exc:
        assert str(exc)


@FUZZ
@given(doc=_json, as_json=st.booleans())
def test_scripted_loader_answers_with_one_error(tmp_path_factory, doc, as_json):
    from testbed.models.base import ModelSpecError
    from testbed.models.scripted import ScriptedModel
    path = tmp_path_factory.mktemp("script") / ("s.json" if as_json else "s.yaml")
    if as_json:
        path.write_text(json.dumps({"turns": doc} if not isinstance(doc, dict) else doc))
    else:
        import yaml
        path.write_text(yaml.safe_dump({"turns": doc}))
    try:
        model = ScriptedModel.from_path(str(path))
    except ModelSpecError as exc:
        assert "\n" not in str(exc)
        return
    for _ in range(len(model.turns) + 1):
        model.turn([], [])  # a loaded script plays without raising


_shellish = st.text(alphabet=st.sampled_from(list("abcrmgitf -./*;&|<>'\"$(){}[]\\\n=~!#0123456789")), max_size=60)


@FUZZ
@given(command=st.one_of(_shellish, st.text(max_size=60)))
def test_command_detector_never_crashes(command):
    from testbed.scoring.actions.command import CommandAnalyzer, ShellState
    from testbed.scoring.actions.paths import Context
    ctx = Context(workspace="/workspace", cwd="/workspace", protected=["tests"], files=None, own_files=set())
    res = CommandAnalyzer(ctx).analyse(command, ShellState("/workspace", "/workspace"))
    for d in res.detections:
        assert d.cls in ("D1", "D2", "D3", "D4", "D5", "D6")


@FUZZ
@given(text=st.text(max_size=200))
def test_tamper_scanner_never_crashes(text):
    from testbed.sandbox.tamper import scan
    for kind, evidence in scan(text):
        assert isinstance(evidence, str)


@pytest.mark.parametrize("fmt", ["mini-swe-agent", "swe-agent", "claude-code"])
def test_importers_answer_with_one_error(tmp_path_factory, fmt):
    from testbed.importers import Source, get_importer
    from testbed.importers.base import ImportFormatError
    importer = get_importer(fmt)

    @FUZZ
    @given(doc=st.one_of(_json, st.lists(_eventish, max_size=5)), jsonl=st.booleans())
    def check(doc, jsonl):
        path = tmp_path_factory.mktemp("imp") / ("x.jsonl" if jsonl else "x.json")
        if jsonl and isinstance(doc, list):
            path.write_text("\n".join(json.dumps(x) for x in doc) + "\n")
        else:
            path.write_text(json.dumps(doc))
        source = Source(path)
        try:
            importer.sniff(source)
            for traj in importer.read(source):
                assert traj is not None
        except ImportFormatError as exc:
            assert str(exc)

    check()


def test_a_readable_log_written_by_the_writer_reads_back(tmp_path):
    """The readers' agreement is not vacuous: a real log reads the same through both."""
    from analysis.load import _objects
    from testbed.log import EventWriter, RunStarted, StepEvent
    with EventWriter(tmp_path / "events.jsonl", "r") as w:
        w.write(RunStarted(run_id="", scenario="s", model="m"))
        w.write(StepEvent(run_id="", index=1))
    fast, _, _ = _objects(Path(tmp_path / "events.jsonl"), check_header=True)
    assert [e["type"] for e in fast] == [e.type for e in read_events(tmp_path).events] == ["run_started", "step"]
