"""Query expansion: acronyms from the glossary (and from the corpus), everyday phrasings."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .datafiles import load_yaml
from .text import normalize, prefix_phrases, stem, stopwords, terms, words


@dataclass(frozen=True)
class Expansion:
    term: str          # what the question said ("SAD", "badante")
    meaning: str       # shown to the user
    added: tuple[str, ...]  # phrases added to the search
    # corpus stems of the same family as a question word the corpus lacks (WordFamilies):
    # searched and matched, neither shown nor embedded
    family: bool = False

    @property
    def is_acronym(self) -> bool:
        return self.term.isupper() or "." in self.term


_ACRONYM_IN_PARENS = re.compile(r"\(([A-Z][A-Za-z.]{1,9})\)")
_PHRASE_BEFORE = re.compile(r"([A-ZÀ-Üa-zà-ü][\w’' ]{3,80}?)\s*$")


_CONNECTORS = {"di", "del", "della", "dello", "dei", "degli", "delle", "e", "ed", "per", "a",
               "al", "alla", "ai", "alle", "in", "il", "la", "lo", "le", "gli", "i", "d", "l"}


_ACRONYM_THEN_PARENS = re.compile(r"\b([A-Z]{2,6})\s*\(([A-ZÀ-Üa-zà-ü][\w’' ]{3,80}?)\)")


def acronym_key(text: str) -> str:
    """How an acronym is looked up, whatever its case and dots ("P.U.A.", "Pua", "PUA")."""
    return normalize(text).replace(".", "")


def _initials(phrase: str) -> str:
    words_ = [normalize(w).strip("'") for w in phrase.replace("’", "'").replace("'", "' ").split()]
    return "".join(w[:1] for w in words_ if w and w not in _CONNECTORS)


_ACRONYM_THEN_WORDS = re.compile(r"(?<![\w.])([A-Z][A-Z0-9]{1,7})\s+(?=[A-ZÀ-Ü][a-zà-ü])")
_WORD = re.compile(r"[^\s()\-–—,;:]+")


def _listed_meaning(text: str, acro: str) -> str | None:
    """The words right after an acronym, as in a list of acronyms ("RTD Responsabile per la
    Transizione al Digitale", "FESR Fondo europeo di sviluppo regionale"): words whose
    initials spell it, the first capitalised, connectors between them allowed. Initials in
    another order ("OPI Ordinativi di Incasso e Pagamento", "AI Intelligenza Artificiale")
    count where the next entry's acronym, a dash or the end follows. None when they do not
    spell it."""
    letters = normalize("".join(c for c in acro if c.isalpha()))
    taken: list[str] = []
    spelled = ""
    for match in _WORD.finditer(text[:120]):
        word = match.group(0).rstrip(".")
        key = normalize(word.replace("’", "'")).strip("'")
        if not key:
            return None
        if taken and key in _CONNECTORS:
            taken.append(word)
            continue
        if not taken and not word[:1].isupper():
            return None
        spelled += key[:1]
        taken.append(word)
        if not _within(spelled, letters):
            return None
        if spelled == letters:
            return " ".join(taken)
        if len(spelled) == len(letters):
            return " ".join(taken) if _entry_ends(text[match.end():]) else None
    return None


def _within(spelled: str, letters: str) -> bool:
    """Whether the initials so far can still spell the acronym, in any order."""
    rest = list(letters)
    for c in spelled:
        if c not in rest:
            return False
        rest.remove(c)
    return True


_ENTRY_END = re.compile(r"\s*(?:$|[-–—]|[A-Z][A-Z0-9.]{1,7}\s)")


def _entry_ends(after: str) -> bool:
    """Whether a list entry ends here: the next acronym, a dash or the end follows."""
    return bool(_ENTRY_END.match(after))


def _list_entries(text: str) -> Iterator[tuple[int, str, str]]:
    """Each entry of a list of acronyms in ``text``: where its acronym starts, the acronym
    and its meaning."""
    for match in _ACRONYM_THEN_WORDS.finditer(text):
        meaning = _listed_meaning(text[match.end():], match.group(1))
        if meaning is not None:
            yield match.start(1), match.group(1), meaning


def listed_definitions(text: str) -> list[int]:
    """Where each entry of a list of acronyms starts in ``text`` (the offset of its
    acronym), as :func:`acronyms_defined_in` reads such a list."""
    return [start for start, _acronym, _meaning in _list_entries(text)]


def acronyms_defined_in(text: str) -> dict[str, str]:
    """Acronyms the documents define themselves: "Punto Unico di Accesso (PUA)",
    "Assistenza domiciliare sociale (Sad)", the other way round, "CIG (Codice
    Identificativo Gara)", or in a list of acronyms, "RTD Responsabile per la Transizione
    al Digitale". The words whose initials spell the acronym (connectors such as "di",
    "della" skipped) are its meaning; in a list the first one must be capitalised, as such
    lists write it."""
    found: dict[str, str] = {}
    for _start, acronym, meaning in _list_entries(text):
        found.setdefault(acronym, meaning)
    for match in _ACRONYM_THEN_PARENS.finditer(text):
        acro, phrase = match.group(1), match.group(2).strip()
        if _initials(phrase) == acro.lower():
            found.setdefault(acro, phrase)
    for match in _ACRONYM_IN_PARENS.finditer(text):
        acro = match.group(1)
        letters = normalize("".join(c for c in acro if c.isalpha()))
        if len(letters) < 2:
            continue
        before = _PHRASE_BEFORE.search(text[max(0, match.start() - 85):match.start()])
        if not before:
            continue
        tokens = before.group(1).replace("’", "'").replace("'", "' ").split()
        spelled, start = "", len(tokens)
        for index in range(len(tokens) - 1, -1, -1):
            word = normalize(tokens[index]).strip("'")
            if word in _CONNECTORS:
                continue
            spelled = word[:1] + spelled
            start = index
            if len(spelled) >= len(letters):
                break
        if spelled == letters:
            found.setdefault(acro.upper(), " ".join(tokens[start:]).replace("' ", "'"))
    return found


class QueryExpander:
    """Finds glossary acronyms and everyday phrasings in a question."""

    def __init__(self, corpus_acronyms: dict[str, str] | None = None,
                 use_glossary: bool = True, use_everyday: bool = True) -> None:
        self.acronyms: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        if use_glossary:
            for key, entry in load_yaml("glossary.yaml")["acronyms"].items():
                self.acronyms[acronym_key(key)] = (
                    key, entry["meaning"], tuple(entry.get("expand", ())))
        for acro, phrase in (corpus_acronyms or {}).items():
            self.acronyms.setdefault(acronym_key(acro),
                                     (acro, phrase, (phrase,)))
        self.rules = []
        if use_everyday:
            for rule in load_yaml("everyday.yaml")["rules"]:
                triggers = [tuple(normalize(w) for w in t.split()) for t in rule["when"]]
                self.rules.append(([(t, prefix_phrases([t])) for t in triggers],
                                   tuple(rule["add"])))

    def expand(self, question: str) -> list[Expansion]:
        found: list[Expansion] = []
        raw_tokens = re.findall(r"[\w.]+", question)
        for token in raw_tokens:
            key = acronym_key(token)
            if key in self.acronyms and (token.isupper() or len(key) > 3 or "." in token
                                         or sum(c.isupper() for c in token) >= 2):  # "RdC"
                label, meaning, added = self.acronyms[key]
                if all(e.term != label for e in found):
                    found.append(Expansion(label, meaning, added))
        plain = " ".join(words(question))
        for triggers, added in self.rules:
            for _trigger, pattern in triggers:
                match = pattern.search(plain) if pattern is not None else None
                if match:  # labelled with the citizen's own words ("non e piu autosufficiente")
                    found.append(Expansion(match.group(0).strip(), ", ".join(added[:3]), added))
                    break
        return found

    @staticmethod
    def extra_terms(expansions: list[Expansion]) -> list[str]:
        out: list[str] = []
        for exp in expansions:
            for phrase in exp.added:
                out.extend(terms(phrase))
        return out


class WordFamilies:
    """For a question word the corpus never uses, the corpus stems of its family: stems
    that begin with its stem, when that has ``min_length`` letters or more (a citizen's
    "mi obbliga" and a manual's "indicazione obbligatoria": "obblig" and "obbligator";
    "assiste" and "assistenza"), the ``members`` most frequent. The ``vocabulary`` maps the
    corpus stems to their document frequency."""

    def __init__(self, vocabulary: Mapping[str, int], min_length: int = 6,
                 members: int = 3) -> None:
        if min_length < 3:
            raise ValueError(f"min_length must be >= 3, got {min_length!r}")
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members!r}")
        self.vocabulary = vocabulary
        self.min_length = min_length
        self.members = members
        self._sorted: list[str] | None = None

    def family(self, term: str) -> list[str]:
        """The corpus stems of the family of the stem ``term`` (none when the corpus holds
        ``term`` itself or it is shorter than ``min_length``)."""
        if len(term) < self.min_length or term in self.vocabulary:
            return []
        if self._sorted is None:
            self._sorted = sorted(self.vocabulary)
        ordered = self._sorted
        found: list[str] = []
        start = bisect.bisect_left(ordered, term)
        for stem_ in ordered[start:]:
            if not stem_.startswith(term):
                break
            found.append(stem_)
        found.sort(key=lambda t: (-self.vocabulary[t], t))
        return found[:self.members]

    def expand(self, question: str, skip: set[str] | None = None) -> list[Expansion]:
        """One expansion per question word whose family the corpus holds (its stems in
        ``skip`` aside: words another expansion already stands for)."""
        out: list[Expansion] = []
        seen = set(skip or ())
        stops = stopwords()
        for word in words(question):
            term = stem(word)
            if word in stops or term in seen:
                continue
            seen.add(term)
            members = self.family(term)
            if members:
                out.append(Expansion(word, "", tuple(members), family=True))
        return out
