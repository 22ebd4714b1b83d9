"""Italian text analysis shared by search, answering and evaluation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*", re.UNICODE)
# "P.I.P.P.I.", "A.T.S.", "Pro.V.I.", "L.R.": dotted acronyms are one word ("pippi"), not
# single letters that the stopword filter would drop
_DOTTED = re.compile(r"(?<![\w.])(?:[^\W\d_]{1,3}\.){2,}(?:[^\W\d_]{1,3}(?![\w.]))?")

# Bumped whenever words()/terms() or the acronyms found in documents change, so that
# saved lexical indexes are rebuilt.
ANALYZER_VERSION = "it-3"


def normalize(text: str) -> str:
    """Lower case, one kind of apostrophe, no accents (citizens often omit them)."""
    text = text.translate(_APOSTROPHES).lower()
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Words and numbers ("715.000", "42.869,00" stay whole); elisions split off."""
    text = normalize(text).replace("'", " ")
    if "." in text:
        text = _DOTTED.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    return _WORD.findall(text)


class _Stemmer(Protocol):
    """The part of PyStemmer's (untyped) ``Stemmer.Stemmer`` that :func:`stem` uses."""

    def stemWord(self, word: str) -> str: ...


@lru_cache(maxsize=1)
def _stemmer() -> _Stemmer:
    import Stemmer

    stemmer: _Stemmer = Stemmer.Stemmer("italian")
    return stemmer


# a piece of text ending with an abbreviation's dot ("n.", "dott.", "L.R."): no sentence end
ABBREVIATION = re.compile(r"(?:\b(?:n|nn|art|artt|dott|dott\.ssa|sig|sigg|pag|pagg|es|ecc|prof|"
                           r"avv|ing|geom|rag|on|d|l|r|lett|co|cfr|vol|tab|fig|min|max)|"
                           r"\b[A-Z]|\b(?:[A-Z]\.){1,4}[A-Z]?)\.$", re.IGNORECASE)


def rejoin(pieces: Iterable[str], also: re.Pattern[str] | None = None) -> list[str]:
    """The pieces of a text split at sentence or clause ends, each joined to the next while
    it ends with an abbreviation ("n.", "dott.", "L.R.") or, given ``also``, wholly matches
    it (an item number "1." opening a list entry)."""
    merged: list[str] = []
    for piece in pieces:
        if merged and (ABBREVIATION.search(merged[-1])
                       or (also is not None and also.fullmatch(merged[-1]))):
            merged[-1] += " " + piece
        else:
            merged.append(piece)
    return merged


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_ITALIAN

    from .datafiles import load_yaml

    extra = load_yaml("search.yaml").get("extra_stopwords", [])
    keep = set(load_yaml("search.yaml").get("keep_words", []))
    return frozenset(normalize(w) for w in (*STOPWORDS_ITALIAN, *extra) if w not in keep)


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def prefix_phrases(phrases: list[tuple[str, ...]]) -> re.Pattern[str] | None:
    """One pattern finding, in words joined by single spaces (``" ".join(words(q))``), any
    of ``phrases`` whose words each begin a word in turn: ("anzian", "non", "autosuff")
    finds "anziani non autosufficienti". None for no phrases."""
    alternatives = [" ".join(re.escape(w) + r"\S*" for w in phrase)
                    for phrase in phrases if phrase]
    if not alternatives:
        return None
    return re.compile(r"(?:^| )(?:" + "|".join(alternatives) + ")")


def terms(text: str) -> list[str]:
    """Stemmed content words: the vocabulary of lexical search and of evidence checks."""
    stops = stopwords()
    return [stem(w) for w in words(text) if w not in stops and (len(w) > 1 or w.isdigit())]
