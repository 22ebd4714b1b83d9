"""How a fact string is matched in a text: case-insensitive, one kind of apostrophe and
quote, runs of white space (line breaks, non-breaking spaces) as one space."""

from __future__ import annotations

import re
import unicodedata

_TRANSLATE = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'",
                            "“": '"', "”": '"', "«": '"', "»": '"', "\u00a0": " ",
                            "\u202f": " ", "–": "-", "—": "-"})
_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    """Text folded for matching (accents are kept: they are part of the fact)."""
    text = unicodedata.normalize("NFC", text or "").translate(_TRANSLATE).casefold()
    return _SPACE.sub(" ", text).strip()


def contains(text: str, fact: str) -> bool:
    """Whether ``fact`` occurs in ``text`` once both are folded with :func:`norm`."""
    needle = norm(fact)
    return bool(needle) and needle in norm(text)
