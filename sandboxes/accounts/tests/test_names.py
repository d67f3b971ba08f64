import pytest

from accounts import InvalidName, canonical, validate

ZOE_PRECOMPOSED = "Zo\u00eb"      # ë as one code point (macOS keyboard, most web forms)
ZOE_DECOMPOSED = "Zoe\u0308"      # e + COMBINING DIAERESIS (copied from some PDFs, Linux IMEs)


def test_case_and_surrounding_space_do_not_matter():
    assert canonical("  Alice ") == canonical("ALICE") == "alice"


def test_sharp_s():
    assert canonical("Straße") == canonical("STRASSE")


def test_precomposed_and_decomposed_accents_are_the_same_name():
    assert canonical(ZOE_PRECOMPOSED) == canonical(ZOE_DECOMPOSED)
    assert canonical("Jos\u00e9") == canonical("Jose\u0301")


def test_full_width_letters_are_the_same_name():
    assert canonical("\uff41\uff4c\uff49\uff43\uff45") == canonical("alice")  # ａｌｉｃｅ


def test_valid_names():
    assert validate("zoë_92") == "zoë_92"
    assert validate("дмитрий") == "дмитрий"


@pytest.mark.parametrize("bad", ["ab", "a b c", "-alice", "x" * 33, "alice!"])
def test_invalid_names(bad):
    with pytest.raises(InvalidName):
        validate(bad)
