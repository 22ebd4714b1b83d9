"""Typo correction against the corpus: "Galatna" -> "Galatina", "disabbili" -> "disabili".

A word of the question that neither the corpus nor the Italian language holds (wordfreq's
bundled frequencies) is matched by edit distance to the places and words the corpus does
hold (rapidfuzz); the closest one within the allowed
distance replaces it, and the correction is reported so that the answer can say
«Forse cercava: …».
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .text import normalize, stem, stopwords

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class TypoPolicy:
    """How far a typed word may be from a corpus word: one edit for words of at least
    ``min_length`` letters (``place_length`` for place names), ``max_distance`` from
    ``long_word`` letters, none below; the first letter is never wrong (typing slips
    rarely hit it, and short everyday words would otherwise become corpus words:
    "marito" is not "merito"); corpus words held by fewer than ``min_frequency`` chunks are
    not proposed."""

    min_length: int = 7
    place_length: int = 5
    max_zipf: float = 1.0  # a word more frequent than this in Italian (wordfreq) is no typo
    long_word: int = 10
    max_distance: int = 2
    min_frequency: int = 2

    def __post_init__(self) -> None:
        if self.min_length < 3:
            raise ValueError(f"min_length must be >= 3, got {self.min_length!r}")
        if self.max_distance < 1:
            raise ValueError(f"max_distance must be >= 1, got {self.max_distance!r}")

    def allowed(self, word: str, place: bool = False) -> int:
        if len(word) < (self.place_length if place else self.min_length):
            return 0
        return self.max_distance if len(word) >= self.long_word else 1


class Corrector:
    """Replaces the question's words unknown to the corpus by their closest known form.

    ``stems``: the stems the corpus holds with their chunk frequency (the lexical index's
    document frequencies); ``places``: place names (normalised), tried first. A word is
    matched on its stem ("disabbili" -> "disabbil" -> "disabil") and written back with its
    own ending ("disabili")."""

    def __init__(self, stems: Mapping[str, int], places: Iterable[str] = (),
                 policy: TypoPolicy | None = None) -> None:
        self.policy = policy or TypoPolicy()
        self.stems = stems
        self.places = frozenset(p for p in places if " " not in p and len(p) >= 3)
        pool = (t for t, n in stems.items()
                if n >= self.policy.min_frequency and len(t) >= 3 and t.isalpha())
        # candidates share the typed word's first letter: grouped once here, not filtered
        # out of the whole vocabulary for every unknown word of every question
        self._places = _by_first_letter(self.places)
        self._pool = _by_first_letter(pool)
        self._cache: dict[str, str | None] = {}

    def known(self, word: str) -> bool:
        """A stopword, a place, a word whose stem the corpus holds, or a word of Italian
        ("abitanti" is not a typo of "ambiti" because a corpus lacks it)."""
        if word in stopwords() or word in self.places or stem(word) in self.stems:
            return True
        from wordfreq import zipf_frequency

        return zipf_frequency(word, "it") > self.policy.max_zipf

    def closest(self, word: str) -> str | None:
        """The known form (a place first) closest to ``word`` within the allowed distance."""
        if word in self._cache:
            return self._cache[word]
        from rapidfuzz import process
        from rapidfuzz.distance import DamerauLevenshtein

        found = None
        limit = self.policy.allowed(word, place=True)
        places = self._places.get(word[:1], [])
        place = process.extractOne(word, places, scorer=DamerauLevenshtein.distance,
                                   score_cutoff=limit) if limit else None
        if place is not None:
            found = place[0]
        elif self.policy.allowed(word):
            own = stem(word)
            pool = self._pool.get(own[:1], [])
            match = process.extractOne(own, pool, scorer=DamerauLevenshtein.distance,
                                       score_cutoff=self.policy.allowed(word))
            if match is not None and word.startswith(own):
                found = match[0] + word[len(own):]
        if len(self._cache) >= 4096:  # words typed by the public: keep the memory bounded
            self._cache.clear()
        self._cache[word] = found
        return found

    def correct(self, question: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The question with its typos replaced, and the (typed, corrected) pairs."""
        corrections: list[tuple[str, str]] = []
        out: list[str] = []
        last = 0
        for match in _TOKEN.finditer(question):
            token = match.group(0)
            word = normalize(token)
            if self.known(word):
                continue
            better = self.closest(word)
            if better is None or better == word:
                continue
            replacement = better.capitalize() if token[:1].isupper() else better
            out.append(question[last:match.start()])
            out.append(replacement)
            last = match.end()
            corrections.append((token, replacement))
        if not corrections:
            return question, ()
        out.append(question[last:])
        return "".join(out), tuple(corrections)


def _by_first_letter(words: Iterable[str]) -> dict[str, list[str]]:
    """The words grouped by their first letter, each group sorted."""
    groups: dict[str, list[str]] = {}
    for word in sorted(words):
        groups.setdefault(word[:1], []).append(word)
    return groups


__all__ = ["Corrector", "TypoPolicy"]
