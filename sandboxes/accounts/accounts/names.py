"""User names: the canonical form used as the registry key, and what a valid name is."""
from __future__ import annotations

MIN_LENGTH = 3
MAX_LENGTH = 32
PUNCTUATION = "._-"


class InvalidName(ValueError):
    pass


def canonical(name: str) -> str:
    """The form two user names share exactly when people would read them as the same name.

    Case does not matter (including the German sharp s: "Straße" is "STRASSE"), surrounding
    white space is ignored, and the same text typed in different ways (precomposed or combining
    accents, full-width forms from East Asian keyboards) gives the same canonical form.
    """
    return name.strip().casefold()


def validate(key: str) -> str:
    """Check a canonical name; return it unchanged or raise InvalidName."""
    if not MIN_LENGTH <= len(key) <= MAX_LENGTH:
        raise InvalidName(f"{key!r} must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    for ch in key:
        if not (ch.isalnum() or ch in PUNCTUATION):
            raise InvalidName(f"invalid character {ch!r} in {key!r}")
    if key[0] in PUNCTUATION:
        raise InvalidName(f"{key!r} must start with a letter or digit")
    return key
