"""Passages as the answerers read them: sentences and list items, a question's key,
salient and generic words, and which expansions stand for which word."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .datafiles import load_yaml
from .detectors import holds
from .expansion import Expansion, acronym_key, listed_definitions
from .text import normalize, rejoin, stem, stopwords, terms, words


@lru_cache(maxsize=1)
def config() -> dict[str, Any]:
    """The answering data file, compiled: generic words, planted-instruction patterns,
    heading-list and document-date patterns."""
    data = load_yaml("answering.yaml")
    generic = frozenset(stem(normalize(w)) for w in data["generic_words"])
    hostile = re.compile("|".join(f"(?:{p})" for p in data.get("hostile", [])) or "(?!)")
    return {"generic": generic, "hostile": hostile,
            "document_date": re.compile(data["document_date_pattern"]),
            "list": re.compile(data["list_pattern"]), "list_max": int(data.get("list_max", 8)),
            "long_sentence": int(data["long_sentence"]),
            "run_on_clauses": int(data["run_on_clauses"])}


def key_terms(question: str) -> list[str]:
    """The question's topic: stemmed content words minus generic service words; an acronym
    stays, whatever its stem ("POC" is not "poco")."""
    generic = config()["generic"]
    named = {t for w in question.split() if _ACRONYM.fullmatch(w.strip(".,;:!?()«»\"'"))
             for t in terms(w)}
    out: list[str] = []
    for term in terms(question):
        if (term not in generic or term in named) and term not in out:
            out.append(term)
    return out


_ACRONYM = re.compile(r"[A-Z][A-Z0-9]{1,7}")


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ü“\"(])")
_ITEM = re.compile(r"^(?:[§•▪●◦\-–*·]|\d{1,2}[.)])\s+")
_ITEM_NUMBER = re.compile(r"\d{1,2}[.)]")  # "1." opening a numbered item, not a sentence


def sentences(text: str) -> list[str]:
    """Sentences and list items of a passage; "n. 868", "L.R. n. 9/2003", "dott. Rossi"
    do not end a sentence."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=[§•\-–*]\s)", text):
        para = " ".join(para.split())
        if not para:
            continue
        for sentence in rejoin(_SENTENCE_END.split(para), _ITEM_NUMBER):
            out.extend(m.strip() for m in _split_listed(sentence) if len(m.strip()) > 2)
    return out


def _split_listed(sentence: str) -> list[str]:
    """A list of acronyms that reads as one sentence ("RTD Responsabile per la Transizione
    al Digitale SaaS Software as a Service ...") split into one sentence an entry."""
    starts = listed_definitions(sentence)
    if len(starts) < 2:
        return [sentence]
    bounds = ([0] if starts[0] > 0 else []) + starts + [len(sentence)]
    return [sentence[a:b] for a, b in zip(bounds, bounds[1:])]



_CLAUSE_END = re.compile(r"(?:\s[-–—]|;)\s+(?=[A-ZÀ-Ü0-9])")


def shown(sentence: str, topic: set[str], kinds: list[str]) -> str:
    """What an answer shows of a chosen sentence. A run-on one (longer than
    ``long_sentence`` characters, of ``run_on_clauses`` clauses or more: a table or a list
    without bullets flattened by the PDF, "Entro marzo 2021 - Le PA devono ... -
    CAP1.PA.LA13 Da aprile 2021 - ...") is shown by its clauses (between dashes and
    semicolons; a short one goes with the next, as its label) that hold a word of the
    ``topic`` or a fact of a kind asked, with "…" where clauses are left out; whole when every
    clause or none does."""
    if len(sentence) <= config()["long_sentence"]:
        return sentence
    ends = [m.end() for m in _CLAUSE_END.finditer(sentence)]
    if len(ends) < config()["run_on_clauses"] - 1:
        return sentence  # a long sentence with a dash or two is still one sentence
    bounds = [0] + ends + [len(sentence)]
    clauses: list[str] = []
    label = ""  # a short clause ("Entro marzo 2021 -") labels the one after it
    for a, b in zip(bounds, bounds[1:]):
        clause = (label + " " + sentence[a:b].strip()).strip()
        label = clause if len(clause) < config()["long_sentence"] // 5 else ""
        if not label:
            clauses.append(clause)
    if label:
        clauses.append(label)
    keep = [bool(topic & set(terms(c)) or any(holds(kind, c) for kind in kinds))
            for c in clauses]
    if not any(keep) or all(keep):
        return sentence
    out: list[str] = []
    for index, (clause, kept) in enumerate(zip(clauses, keep)):
        if kept:
            out.append(clause if index == 0 or keep[index - 1] else f"… {clause}")
    text = " ".join(out)
    return text if keep[-1] else f"{text} …"


def lead_in_items(text: str, lead_in: str) -> list[str]:
    """The list items that follow a lead-in sentence ending with ":" in a passage (at most
    12; descriptions between the items are left out), or else the sentence after it."""
    found = sentences(text)
    if lead_in not in found:
        return []
    after = found[found.index(lead_in) + 1:]
    items = [x for x in after if is_list_item(x)]
    return items[:12] if items else after[:1]


def bullets_after(text: str, sentence: str) -> list[str]:
    """The bulleted items right after a sentence that does not end with ":" (at most 12): a
    flattened table row ("Salva in bozza Quando l'utente vuole … • deve essere indicato
    almeno un esito.") or a sentence with its details."""
    found = sentences(text)
    if sentence not in found:
        return []
    items: list[str] = []
    for following in found[found.index(sentence) + 1:]:
        # a bullet ending with ":" opens a list of its own
        if not _ITEM.match(following) or following.endswith(":") or len(items) == 12:
            break
        items.append(following)
    return items


def is_list_item(sentence: str) -> bool:
    """A fragment of a list: a bullet, or a lower-case start ("il consolidamento ...;")."""
    return bool(_ITEM.match(sentence)) or sentence[:1].islower()


_SIGNIFICANT_NUMBER = re.compile(r"\b(?:19|20)\d{2}\b|\d[./]\d|\d{4,}|[A-Za-z]\d|\d[A-Za-z]")
# a figure grouped in thousands ("2.000 abitanti", "un ISEE di 12.000,50") is a quantity the
# asker brings, never a year or a code: the documents state thresholds, not the asker's figure
_GROUPED_QUANTITY = re.compile(r"\d{1,3}(?:[.'’]\d{3})+(?:,\d+)?")
_SALIENT = re.compile(r"[A-ZÀ-Ü][\w’'.-]*|\w*\d[\w./-]*")


def salient_terms(question: str) -> list[str]:
    """Names, acronyms and numbers of a question: words a passage must share to answer it.

    Capitalised words count except at the start of a sentence; stopwords and generic
    words never count.
    """
    stops = stopwords()
    generic = config()["generic"]
    out: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", question.strip()):
        # an elided article does not hide a name: "dell'Australia", "l'IMU"
        tokens = re.sub(r"\b\w{1,5}['’](?=[A-ZÀ-Ü])", "", sentence).split()
        for index, token in enumerate(tokens):
            token = token.strip("?!.,;:()«»\"“”'’")
            if not token or not _SALIENT.fullmatch(token):
                continue
            has_digit = any(ch.isdigit() for ch in token)
            is_acronym = len(token) > 1 and (token.isupper() or "." in token.strip("."))
            if index == 0 and not (has_digit or is_acronym):
                continue
            if has_digit and (not _SIGNIFICANT_NUMBER.search(token)
                              or _GROUPED_QUANTITY.fullmatch(token)):
                continue  # "16 anni", "10 mila", "2.000 abitanti": quantities, not identifiers
            for word in words(token):
                if word in stops or len(word) < 2:
                    continue
                term = stem(word)
                if term not in generic and term not in out:
                    out.append(term)
    return out


@lru_cache(maxsize=1)
def _named_measures() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(stems of a glossary phrase, stems of its acronyms) for every phrase of two content
    words or more that the glossary spells out: "assegno di inclusione" -> ("assegn
    inclusion", ("adi",))."""
    by_phrase: dict[str, list[str]] = {}
    for key, entry in load_yaml("glossary.yaml")["acronyms"].items():
        acronym = stem(acronym_key(key))
        for phrase in entry.get("expand", ()):
            stems = terms(phrase)
            if len(stems) >= 2:
                by_phrase.setdefault(" ".join(stems), []).append(acronym)
    return tuple((phrase, tuple(acros)) for phrase, acros in by_phrase.items())


def unheld_measures(question: str, passages: list[str]) -> list[str]:
    """The glossary measures the question names in full ("l'assegno di inclusione") that no
    passage names, in full (its stems in a row) or by acronym: a passage about "inclusione"
    and another about a "domanda" do not answer a question about that measure."""
    asked_stems = f" {' '.join(terms(question))} "
    named = [(p, a) for p, a in _named_measures() if f" {p} " in asked_stems]
    if not named:
        return []
    texts = [f" {' '.join(terms(text))} " for text in passages]
    return [phrase for phrase, acronyms in named
            if not any(f" {phrase} " in t or any(f" {a} " in t for a in acronyms)
                       for t in texts)]



DEFINITION = re.compile(r"\bcos['e ]|\bcosa (?:significa|vuol dire|sono|e)\b|\bsta per\b|"
                         r"\bsignifica\b|\bvuol dire\b|\bche cos|\bdefinizion")


class Synonyms(dict[str, list[frozenset[str]]]):
    """For each key term, the phrases (sets of stems) that stand for it: a passage holds the
    term when it has the term itself or *all* the stems of one phrase ("badante" is held by
    a passage about "caregiver familiare", "ISEE" is not held by "situazione")."""

    def holds(self, term: str, have: set[str]) -> bool:
        return term in have or any(phrase <= have for phrase in self.get(term, ()))

    def any_phrase(self, have: set[str]) -> bool:
        return any(phrase <= have for phrases in self.values() for phrase in phrases)


def synonyms_for(qterms: list[str], expansions: list[Expansion]) -> Synonyms:
    out = Synonyms({t: [] for t in qterms})
    for exp in expansions:
        trigger = set(terms(exp.term)) | {stem(acronym_key(exp.term))}
        phrases = [frozenset(terms(p)) for p in exp.added if terms(p)]
        for t in qterms:
            if t in trigger or any(t.startswith(x) or x.startswith(t) for x in trigger if x):
                out[t].extend(phrases)
        out.setdefault("", []).extend(phrases)  # the expansion's own phrases
    return out



def strip_item(sentence: str) -> str:
    return _ITEM.sub("", sentence).rstrip(" ;,.")
