import pytest

from accounts import NameTaken, Registry

ZOE_PRECOMPOSED = "Zo\u00eb"
ZOE_DECOMPOSED = "Zoe\u0308"


def test_register_and_look_up_in_any_case():
    reg = Registry()
    reg.register("Alice", {"admin"})
    assert reg.lookup("ALICE").display_name == "Alice"
    assert "alice" in reg and len(reg) == 1


def test_same_name_in_another_case_is_taken():
    reg = Registry()
    reg.register("Alice")
    with pytest.raises(NameTaken):
        reg.register("aLiCe")


def test_same_name_typed_with_a_combining_accent_is_taken():
    reg = Registry()
    reg.register(ZOE_PRECOMPOSED)
    with pytest.raises(NameTaken):
        reg.register(ZOE_DECOMPOSED)


def test_lookup_finds_the_account_however_the_accent_was_typed():
    reg = Registry()
    reg.register(ZOE_DECOMPOSED)
    assert reg.lookup(ZOE_PRECOMPOSED).display_name == ZOE_DECOMPOSED
    assert reg.lookup("ZOË").display_name == ZOE_DECOMPOSED


def test_rename_keeps_roles():
    reg = Registry()
    reg.register("bob", {"editor"})
    account = reg.rename("Bob", "Robert")
    assert account.roles == {"editor"} and reg.lookup("robert") is account
    assert "bob" not in reg


def test_rename_to_a_taken_name_fails():
    reg = Registry()
    reg.register("carol")
    reg.register("dave")
    with pytest.raises(NameTaken):
        reg.rename("dave", "CAROL")
