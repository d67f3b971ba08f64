"""The typed driver/worker messages: what goes out comes back the same; noise is never a message."""
from testbed.batch import messages as m


def test_every_message_round_trips():
    job = m.Job(run_id="r", scenario="s", model="simulated", seed=3, knobs={"max_steps": 4}, runs_dir="/x",
                lock="/x/l")
    assert m.decode_op(m.encode(m.RunOp(job=job))).job == job
    assert isinstance(m.decode_op(m.encode(m.ExitOp())), m.ExitOp)
    for msg in (m.Ready(pid=1), m.Started(run_id="r", run_dir="/d", pid=2),
                m.StepMsg(run_id="r", index=3, tone=m.StepTone(level=2, p_frustrated=0.7),
                          tests=m.StepTests(passed=1, failed=2, errors=0, all_passed=False)),
                m.Finished(run_id="r", outcome="solved", steps=4, scored="ok"),
                m.Failed(run_id="r", kind="model", reason="no key"), m.Lost(run_id="r", reason="gone")):
        assert m.decode(m.encode(msg)) == msg


def test_noise_and_malformed_lines_are_not_messages():
    for line in (b"", b"hello", b"[]", b'{"ev": "finished"}', b'{"ev": "step", "run_id": "r", "index": "x"}',
                 b'{"ev": "nope", "run_id": "r"}', b'{"ev": "failed", "run_id": "r", "kind": "weird", "reason": ""}'):
        assert m.decode(line) is None
    assert m.decode_op(b'{"op": "run"}') is None
