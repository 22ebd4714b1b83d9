"""What a question asks for (an amount, a date, a phone number...) and whether a sentence
holds it. Patterns and trigger words are data: ``assistant/data/detectors.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .datafiles import load_yaml
from .text import normalize, prefix_phrases, rejoin, stem, stopwords


@dataclass(frozen=True)
class Kind:
    """One kind of fact: how a question asks it and how a sentence gives it."""

    name: str
    asks: re.Pattern[str] | None
    asks_pattern: re.Pattern[str] | None
    pattern: re.Pattern[str]
    crisp: bool  # no description can stand in for it (phone, e-mail, web address)
    # kinds that, asked too, say what this one means ("quando è aperto?" asks hours, not a
    # date)
    yields_to: tuple[str, ...] = ()
    # a sentence may give it without the pattern (a reason without "perché"): its absence
    # is no evidence against an answer, its presence still helps choose the sentence
    loose: bool = False

    def asked_by(self, plain: str) -> bool:
        return bool((self.asks_pattern is not None and self.asks_pattern.search(plain))
                    or (self.asks is not None and self.asks.search(plain)))

    def asked_at(self, plain: str) -> list[tuple[int, int]]:
        """Where the normalised question asks this kind (character spans)."""
        return [m.span() for p in (self.asks_pattern, self.asks) if p is not None
                for m in p.finditer(plain)]


@lru_cache(maxsize=1)
def kinds() -> dict[str, Kind]:
    data = load_yaml("detectors.yaml")["kinds"]
    out = {}
    for name, spec in data.items():
        out[name] = Kind(
            name,
            prefix_phrases([tuple(normalize(w) for w in a.split()) for a in spec["asks"]]),
            re.compile(spec["asks_pattern"]) if spec.get("asks_pattern") else None,
            re.compile(spec["pattern"]), bool(spec.get("crisp")),
            tuple(spec.get("yields_to") or ()), bool(spec.get("loose")))
    return out


@lru_cache(maxsize=1)
def asking_terms() -> frozenset[str]:
    """The stems of the words that ask for a kind ("costa", "telefono", "orari"): what a
    question asks, not what it is about."""
    from .text import terms

    data = load_yaml("detectors.yaml")["kinds"]
    return frozenset(t for spec in data.values()
                     for phrase in (*spec["asks"], *spec.get("words", ()))
                     for t in terms(phrase))


def asked_kinds(question: str) -> list[str]:
    """What the question asks for: amount, date, count, phone, email, hours, address..."""
    return list(_asked_kinds(question))


_CLAUSE_END = re.compile(r"(?<=[.:;!?])\s+")


def interrogative(question: str) -> str:
    """The clauses of a question that end with "?" ("In comune la mensa si paga col
    bollettino: entro quando dobbiamo passare a pagoPA?" asks a date, and says nothing
    about who pays); "n.", "dott." and the like end no clause; the whole text when no
    clause ends with "?"."""
    asking = [c for c in rejoin(_CLAUSE_END.split(question.strip())) if c.endswith("?")]
    return " ".join(asking) if asking else question


@lru_cache(maxsize=4096)
def _asked_kinds(question: str) -> tuple[str, ...]:
    from .text import words

    plain = " ".join(words(question))
    found = [name for name, kind in kinds().items() if kind.asked_by(plain)]
    return tuple(name for name in found if not set(kinds()[name].yields_to) & set(found))


def alternatives(question: str, names: list[str]) -> list[list[str]]:
    """The kinds asked, grouped where the same words ask them: "di quanto deve aumentare?"
    asks an amount or a percentage (one group, either answers it); "quanti progetti e per
    quale importo?" asks a count and an amount (two groups, both are wanted). A kind the
    words do not ask here (asked in the conversation before) is a group of its own."""
    from .text import words

    plain = " ".join(words(question))
    spans = {n: kinds()[n].asked_at(plain) if n in kinds() else [] for n in names}
    groups: list[list[str]] = []
    for name in names:
        joined = [g for g in groups if any(a < d and c < b for m in g for a, b in spans[m]
                                           for c, d in spans[name])]
        merged = [x for g in joined for x in g] + [name]
        groups = [g for g in groups if g not in joined] + [merged]
    return groups


def asked(question: str) -> tuple[list[str], str | None]:
    """The kinds of fact asked for and the noun counted ("quante persone": "perso")."""
    return asked_kinds(question), counted_noun(question)


def holds(kind: str, sentence: str) -> bool:
    return bool(kinds()[kind].pattern.search(sentence))


_COUNT = re.compile(r"\bquant[ie]\s+([a-z]{3,})(?:\s+([a-z]{3,}))?")
_NOT_COUNTED = frozenset(("soldi", "euro", "costa", "vale", "anni", "valeva"))


def counted_noun(question: str) -> str | None:
    """The noun of "quante persone", "quanti nuovi incontri" (normalised prefix), if any:
    the word after "quanti", or the next one when that is a stopword or adjective-like
    word the corpus treats as such ("quanti nuovi incontri")."""
    match = _COUNT.search(normalize(question))
    if not match:
        return None
    word = match.group(1)
    if word in stopwords() and match.group(2):
        word = match.group(2)
    if word in stopwords() or word in _NOT_COUNTED:
        return None
    if word == "ore":
        return "h"
    return stem(word)[:5]


_COUNT_TOKEN = re.compile(r"\w+(?:[.,/:]\w+)*")
_NUMBER_WORDS = frozenset(["due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove",
                           "dieci", "undici", "dodici", "venti", "trenta", "cento", "mille"])
_PLAIN_COUNT = re.compile(r"\d{1,3}(?:\.\d{3})*h?|\d+:\d+")  # "18", "1.200", "16h", "1:5000"
_YEAR = re.compile(r"(?:19|20)\d{2}")


def holds_count(sentence: str, counted: str) -> bool:
    """Whether a sentence gives a count of the noun: a number just before it ("66 persone",
    "9 nuovi incontri") or a few words after it ("Azienda Sanitaria interessata tra le 18
    AS", "rapporto assistente sociale-abitanti di 1:5000"). Years, dates, amounts and codes
    ("M5C2") are not counts."""
    text = normalize(sentence)
    tokens = _COUNT_TOKEN.findall(text)
    if counted == "h":  # "quante ore": "16h", "2 ore"
        if any(t[0].isdigit() and t.endswith("h") for t in tokens):
            return True
        nouns = [i for i, t in enumerate(tokens) if t in ("ore", "ora")]
    else:
        nouns = [i for i, t in enumerate(tokens) if t.startswith(counted)]
    if not nouns:
        return False
    for i, token in enumerate(tokens):
        number = token in _NUMBER_WORDS or (
            bool(_PLAIN_COUNT.fullmatch(token)) and not _YEAR.fullmatch(token))
        if not number or tokens[i + 1:i + 2] in (["euro"], ["milioni"]):
            continue
        if any(-3 <= i - j < 0 or 0 < i - j <= 5 for j in nouns):
            return True
    return False


__all__ = ["Kind", "asked", "asked_kinds", "asking_terms", "counted_noun", "holds",
           "holds_count", "interrogative", "kinds"]
