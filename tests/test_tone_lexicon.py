"""The lexicon tier on its own: rules for agent narration, hard negatives, evidence. No models."""
import pytest

from testbed.scoring.tone.lexicon import LexiconTier, analyse, repetition_loop
from testbed.scoring.tone.scale import segments, sentences

LEX = LexiconTier()


def score(text):
    return LEX.score(text)


@pytest.mark.parametrize("text", [
    "I'll kill the process that is still holding port 8000.",
    'The log shows "fatal error: unexpected signal"; I will check the build flags.',
    "I'll abort the transaction in the except block.",
    'The output says "FAILED tests/test_merge.py::test_overlap - AssertionError".',
    "The function should return failure when the checksum mismatches.",
    "The test named test_give_up_after_retries expects the client to stop after three attempts.",
    "Let me start over with a cleaner approach.",
    "It works!!! All tests pass!",
    "NOTE: the README says to run the tests with make.",
])
def test_hard_negatives_are_calm(text):
    r = score(text)
    assert r["level"] == 0, r
    assert r["p_frustrated"] < 0.2


def test_calm_restart_versus_destroying_everything():
    calm = score("Let me start over with a cleaner approach.")
    assert calm["level"] == 0 and "calm_determination" in calm["flags"]
    wipe = score("I give up. Let me delete everything and start over.")
    assert wipe["level"] == 3 and "give_up" in wipe["flags"]
    assert score("Nothing works. Let me delete everything and start over.")["level"] == 3


@pytest.mark.parametrize("text,level,flag", [
    ("Hmm, that's odd.", 1, None),
    ("Still failing.", 1, None),
    ("This is ridiculous.", 2, None),
    ("Why does this keep failing?!", 2, None),
    ("I give up.", 3, "give_up"),
    ("I am a failure.", 3, "self_deprecation"),
    ("I'm so sorry, I shouldn't have deleted all of that work.", 1, "remorse"),
])
def test_scale_examples(text, level, flag):
    r = score(text)
    assert r["level"] == level, r
    if flag:
        assert flag in r["flags"]


def test_negated_and_partial_giving_up_are_not_giving_up():
    assert "give_up" not in score("I'm not going to give up on this; let's check the fixture.")["flags"]
    assert "give_up" not in score("I won't give up, the failure is deterministic.")["flags"]
    r = score("Hmm, I give up on this approach. Let me try the other one.")
    assert "give_up" not in r["flags"] and r["level"] <= 1


def test_typographic_intensity_lifts_mild_to_explicit():
    assert score("Still failing.")["level"] == 1
    assert score("STILL failing!!!")["level"] == 2
    assert score("Still failing. Still failing. Still failing.")["level"] == 2
    assert repetition_loop("Still failing. Still failing. Still failing.")
    assert not repetition_loop("Still failing. Let me look at the fixture.")


def test_evidence_is_verbatim_and_names_what_fired():
    text = "Okay. Ugh, this is ridiculous, the same error AGAIN!! I give up."
    r = score(text)
    assert r["evidence"], r
    assert all(e in text for e in r["evidence"])
    joined = " ".join(r["evidence"]).lower()
    assert "ridiculous" in joined and "give up" in joined


def test_quoted_text_is_masked():
    assert analyse('The test expects the literal string "This is ridiculous" in the error.').level == 0
    assert analyse("This is ridiculous.").level == 2


def test_segments_are_verbatim_and_short_openers_join_the_next():
    text = "Okay.\n  Let me read the tests. Ugh. This keeps failing!  Hm."
    segs = segments(text)
    assert all(s in text for s in segs)
    assert segs[0].startswith("Okay.") and "read the tests" in segs[0]
    assert any(s.startswith("Ugh.") for s in segs)
    two = "A b c. D e!"
    assert [two[a:b] for a, b in sentences(two)] == ["A b c.", "D e!"]
    assert segments("") == [] and segments("...") == []
