"""Answers without an LLM: evidence check, sentence selection, citations.

The :class:`ExtractiveAnswerer` chooses the sentences of the retrieved passages that answer
the question (its key terms, and the amount, date or number it asks for), most relevant
first, each followed by the marker of the passage it comes from. When no passage holds the
question's key terms it refuses, saying what it could not find.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import messages
from .conversation import JOINER
from .datafiles import load_yaml
from .expansion import Expansion
from .ingestion.cleaning import SECTION_PATH
from .retrieval import Hit
from .sections import listed_section_ids
from .text import normalize, prefix_phrases, stem, stopwords, terms, words


@dataclass
class Citation:
    id: int
    source: str
    title: str
    page: int | None
    section: str | None
    text: str
    highlights: list[str] = field(default_factory=list)
    ambito: str | None = None
    doc_type: str | None = None
    chunk_id: str = ""
    date: str | None = None  # the date the cited document carries at its top

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "title": self.title, "page": self.page,
                "section": self.section, "text": self.text}


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    expansions: list[Expansion] = field(default_factory=list)
    searched_question: str = ""
    notice: str | None = None
    evidence: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    answerer: str = "extractive"

    def as_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "refused": self.refused,
                "notice": self.notice, "citations": [c.as_json() for c in self.citations]}


@lru_cache(maxsize=1)
def _config() -> dict[str, Any]:
    data = load_yaml("answering.yaml")
    kinds = {}
    for name, spec in data["kinds"].items():
        kinds[name] = (prefix_phrases([tuple(normalize(w) for w in a.split())
                                       for a in spec["asks"]]),
                       re.compile(spec["pattern"]), bool(spec.get("required")),
                       re.compile(spec["asks_pattern"]) if spec.get("asks_pattern") else None)
    # kinds whose supporting sentence must hold one of these words rather than the
    # question's topic ("i comuni dell'ambito": a sentence listing "Comuni di ...")
    kind_topics = {name: frozenset(stem(normalize(w)) for w in spec["topic_words"])
                   for name, spec in data["kinds"].items() if spec.get("topic_words")}
    generic = frozenset(stem(normalize(w)) for w in data["generic_words"])
    count_words = tuple(normalize(w) for w in data["kinds"]["count"].get("words", ()))
    count_labels = frozenset(normalize(w) for w in data["kinds"]["count"].get("labels", ()))
    hostile = re.compile("|".join(f"(?:{p})" for p in data.get("hostile", [])) or "(?!)")
    document_date = re.compile(data["document_date_pattern"])
    return {"kinds": kinds, "generic": generic, "hostile": hostile, "count_words": count_words,
            "document_date": document_date, "list": re.compile(data["list_pattern"]),
            "kind_topics": kind_topics,
            "list_max": int(data.get("list_max", 8)),
            "count_labels": count_labels}


def asked_kinds(question: str) -> list[str]:
    """What the question asks for: amount, date, count, phone, email, hours, address."""
    return list(_asked_kinds(question))


@lru_cache(maxsize=4096)
def _asked_kinds(question: str) -> tuple[str, ...]:
    plain = " ".join(words(question))
    return tuple(name for name, (asks, _pattern, _req, asks_pattern)
                 in _config()["kinds"].items()
                 if (asks_pattern is not None and asks_pattern.search(plain))
                 or (asks is not None and asks.search(plain)))


def asked(question: str) -> tuple[list[str], str | None]:
    """The kinds of fact asked for and the noun counted ("quante persone": "perso").

    In a follow-up rewritten with the previous question ("Quanto valeva l'Azione B — quante
    persone ne hanno beneficiato?") what the follow-up asks replaces what the previous
    question asked; a follow-up that asks nothing of its own ("e a Casarano?") keeps it.
    """
    kinds, counted = _asked(question)
    return list(kinds), counted


@lru_cache(maxsize=4096)
def _asked(question: str) -> tuple[tuple[str, ...], str | None]:
    if JOINER in question:
        focus = question.rsplit(JOINER, 1)[1]
        kinds, counted = _asked_kinds(focus), counted_noun(focus)
        if kinds or counted:
            return kinds, counted
    return _asked_kinds(question), counted_noun(question)


def key_terms(question: str) -> list[str]:
    """The question's topic: stemmed content words minus generic service words."""
    generic = _config()["generic"]
    out: list[str] = []
    for term in terms(question):
        if term not in generic and term not in out:
            out.append(term)
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ü“\"(])")
_ABBREVIATION = re.compile(r"(?:\b(?:n|nn|art|artt|dott|dott\.ssa|sig|sigg|pag|pagg|es|ecc|prof|"
                           r"avv|ing|geom|rag|on|d|l|r|lett|co|cfr|vol|tab|fig|min|max)|"
                           r"\b[A-Z]|\b(?:[A-Z]\.){1,4}[A-Z]?)\.$", re.IGNORECASE)
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
        pieces = _SENTENCE_END.split(para)
        merged: list[str] = []
        for piece in pieces:
            if merged and (_ABBREVIATION.search(merged[-1]) or _ITEM_NUMBER.fullmatch(merged[-1])):
                merged[-1] += " " + piece
            else:
                merged.append(piece)
        out.extend(m.strip() for m in merged if len(m.strip()) > 2)
    return out


_PARTS = re.compile(r"\?+|[,;]?\s+e\s+(?=(?:quant[oiae]|qual[ei]?|cosa|come|chi|dove|quando|"
                    r"perch|con qual|con che|a qual|in cosa|in che|cosa)\b)", re.IGNORECASE)


_POINTS_BACK = re.compile(r"\b(?:quest[oaie]|quel|quell[oaie]|quei|quegli|tale|tali|"
                         r"stess[oaie]|esso|essa|essi)\b", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The parts of a compound question: split at question marks; a part too short to
    stand alone ("quanto?") or pointing back at the first ("in cosa consiste questo
    servizio?") borrows the words of the first part."""
    pieces = [p.strip(" —-,") for p in _PARTS.split(question) if p and p.strip(" —-,")]
    if len(pieces) < 2:
        return [question]
    head = pieces[0]
    parts = [head]
    for piece in pieces[1:]:
        alone = len(key_terms(piece)) >= 2 and not _POINTS_BACK.search(piece)
        parts.append(piece if alone else f"{head} {piece}")
    return parts


def named_groups(question: str, hits: list[Hit]) -> list[list[Hit]]:
    """A question about two documents ("nelle Marche e nella lista nazionale", "Galatina e
    Val d'Enza") gets the hits of each document it names as a group of their own, so that
    one document does not crowd the other out of the answer. A document is named when its
    title, ambito, region or comuni hold a word of the question that no other hit's
    document holds. Empty when fewer than two documents are named."""
    by_source: dict[str, list[Hit]] = {}
    for hit in hits:
        by_source.setdefault(hit.chunk.source, []).append(hit)
    if len(by_source) < 2:
        return []
    qterms = set(key_terms(question))
    own: dict[str, set[str]] = {}
    for source, group in by_source.items():
        meta = group[0].chunk.metadata
        about = " ".join(str(meta.get(k) or "") for k in ("ambito", "region", "comuni"))
        own[source] = qterms & set(terms(f"{group[0].chunk.title} {about.replace('|', ' ')}"))
    named = [s for s in by_source
             if own[s] - set().union(*(own[o] for o in own if o != s))]
    return [by_source[s] for s in named] if len(named) >= 2 else []


def listing_topic(question: str) -> tuple[str, list[str]] | None:
    """What a question asks to list, as written and as stems: "Quali sono le aree
    strategiche del piano?" -> ("aree strategiche", ["are", "strateg"]). None when it asks
    no list, lists only generic things ("quali sono i servizi") or asks a kind of fact."""
    kinds, counted = asked(question)
    if counted or any(kind != "reason" for kind in kinds):
        return None
    match = _config()["list"].search(" ".join(words(question)))
    if not match:
        return None
    generic = _config()["generic"]
    what = match.group("what")
    head = terms(what.split()[0])
    if not head or head[0] in generic:
        return None  # "quali progetti PNRR": projects, not headings, are asked for
    return what, [t for t in terms(what) if t not in generic]


def listed_sections(question: str, hits: list[Hit]) -> list[Hit]:
    """For a question asking to list what a document's headings name, the first passage
    of each heading of the best-ranked such document that names it, in the document's
    order; empty when fewer than two headings do."""
    topic = listing_topic(question)
    if topic is None:
        return []
    by_id = {h.chunk.id: h for h in hits}
    found = listed_section_ids(list(by_id), [h.chunk.metadata for h in by_id.values()],
                               dict.fromkeys(h.chunk.source for h in hits), set(topic[1]))
    return [by_id[cid] for cid in found]


def lead_in_items(text: str, lead_in: str) -> list[str]:
    """The list items that follow a lead-in sentence ending with ":" in a passage (at most
    12; descriptions between the items are left out), or else the sentence after it."""
    found = sentences(text)
    if lead_in not in found:
        return []
    after = found[found.index(lead_in) + 1:]
    items = [x for x in after if is_list_item(x)]
    return items[:12] if items else after[:1]


def is_list_item(sentence: str) -> bool:
    """A fragment of a list: a bullet, or a lower-case start ("il consolidamento ...;")."""
    return bool(_ITEM.match(sentence)) or sentence[:1].islower()


_SIGNIFICANT_NUMBER = re.compile(r"\b(?:19|20)\d{2}\b|\d[./]\d|\d{4,}|[A-Za-z]\d|\d[A-Za-z]")
_SALIENT = re.compile(r"[A-ZÀ-Ü][\w’'.-]*|\w*\d[\w./-]*")


def salient_terms(question: str) -> list[str]:
    """Names, acronyms and numbers of a question: words a passage must share to answer it.

    Capitalised words count except at the start of a sentence; stopwords and generic
    words never count.
    """
    stops = stopwords()
    generic = _config()["generic"]
    out: list[str] = []
    for sentence in re.split(r"(?<=[.?!])\s+", question.strip()):
        tokens = sentence.split()
        for index, token in enumerate(tokens):
            token = token.strip("?!.,;:()«»\"“”'’")
            if not token or not _SALIENT.fullmatch(token):
                continue
            has_digit = any(ch.isdigit() for ch in token)
            is_acronym = len(token) > 1 and (token.isupper() or "." in token.strip("."))
            if index == 0 and not (has_digit or is_acronym):
                continue
            if has_digit and not _SIGNIFICANT_NUMBER.search(token):
                continue  # "16 anni", "10 mila": everyday numbers, not identifiers
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
        acronym = stem(normalize(key).replace(".", ""))
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


@dataclass
class Evidence:
    """Why the passages do or do not support a question."""

    score: float
    missing_salient: list[str] = field(default_factory=list)
    missing_kinds: list[str] = field(default_factory=list)
    topic_terms: list[str] = field(default_factory=list)
    asked_kinds: list[str] = field(default_factory=list)

    @property
    def vetoed(self) -> bool:
        """A name the passages lack, or nothing of what the question asks for (a question
        asking an amount *and* a count is answered in part when one of them is there)."""
        all_missing = bool(self.missing_kinds) and \
            len(self.missing_kinds) >= len(self.asked_kinds)
        return bool(self.missing_salient) or all_missing


class EvidenceScorer:
    """How well the retrieved passages support a question.

    * Topic coverage, 0 to 1: the share, weighted by rarity, of the question's content words
      *known to the corpus* that one passage holds (or 0.8 of the share the top passages
      hold together); a word counts as held when the passage has it or one of its
      expansions. Everyday words the corpus never uses ("cammina", "papà") do not count.
    * Vetoes: a name, acronym or number of the question that no retrieved passage holds
      ("Maglie", "RSA", "2025"); a kind of fact asked for (phone, e-mail, hours, address,
      deadline, amount, a count of something, a person's name) that no sentence sharing the
      question's topic holds.
    """

    def __init__(self, document_frequency: dict[str, int] | None = None,
                 n_chunks: int = 1) -> None:
        self.df = document_frequency or {}
        self.n = max(1, n_chunks)

    def weight(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n + 1) / (df + 0.5))

    def known(self, term: str) -> bool:
        return not self.df or term in self.df

    def evaluate(self, question: str, hits: list[Hit], expansions: list[Expansion],
                 ignore: set[str] | None = None) -> Evidence:
        ignore = ignore or set()
        qterms = [t for t in key_terms(question) if t not in ignore]
        topic = [t for t in qterms if self.known(t)]
        if not hits:
            return Evidence(0.0, topic_terms=topic)
        synonyms = _synonyms(qterms, expansions)
        passages = [set(terms(" ".join((h.chunk.title, h.chunk.section or "", h.chunk.text))))
                    for h in hits]
        union = set().union(*passages)
        missing = [t for t in salient_terms(question)
                   if t not in ignore and not synonyms.holds(t, union)]
        missing += unheld_measures(question, [
            " ".join((h.chunk.title, h.chunk.section or "", h.chunk.text)) for h in hits])
        missing_kinds, required = self._missing_kinds(question, hits, topic, synonyms)
        # everyday words the documents never use, translated by an expansion that a passage
        # holds whole ("straniero" -> "sportello immigrati")
        translated = 0.6 if any(synonyms.any_phrase(p) for p in passages) else 0.0
        if not topic:
            return Evidence(1.0 if translated else 0.0, missing, missing_kinds, topic,
                            required)
        total = sum(self.weight(t) for t in topic)

        def coverage(have: set[str]) -> float:
            return sum(self.weight(t) for t in topic if synonyms.holds(t, have)) / total

        best = max(coverage(p) for p in passages)
        together = 0.8 * coverage(union)
        return Evidence(max(best, together, translated), missing, missing_kinds, topic,
                        required)

    def score(self, question: str, hits: list[Hit], expansions: list[Expansion]) -> float:
        evidence = self.evaluate(question, hits, expansions)
        return 0.0 if evidence.vetoed else evidence.score

    def _missing_kinds(self, question: str, hits: list[Hit], topic: list[str],
                       synonyms: "_Synonyms") -> tuple[list[str], list[str]]:
        """The kinds of fact asked for that no topical sentence holds, and those asked."""
        kinds = _config()["kinds"]
        asked_for, counted = asked(question)
        required = [k for k in asked_for if kinds[k][2]]
        if counted:
            required.append("count")
        if not required:
            return [], []
        topical = [t for t in topic if t != counted]
        missing = []
        for kind in required:
            pattern = kinds[kind][1]
            own = _config()["kind_topics"].get(kind)
            found = False
            for hit in hits:
                for sentence in sentences(hit.chunk.text):
                    if kind == "count":
                        ok = holds_count(sentence, counted)
                    else:
                        ok = bool(pattern.search(sentence))
                    if not ok:
                        continue
                    have = set(terms(sentence + " " + (hit.chunk.section or "")))
                    if own is not None:
                        ok = bool(own & have)
                    else:
                        ok = not topical or any(synonyms.holds(t, have) for t in topical)
                    if ok:
                        found = True
                        break
                if found:
                    break
            if not found:
                missing.append(kind)
        return missing, required


_DEFINITION = re.compile(r"\bcos['e ]|\bcosa (?:significa|vuol dire|sono|e)\b|\bsta per\b|"
                         r"\bsignifica\b|\bvuol dire\b|\bche cos|\bdefinizion")
_NUMBER = (r"\b(?:\d+|due|tre|quattro|cinque|sei|sette|otto|nove|dieci|venti|cento|mille)"
           r"(?:h\b)?")
_COUNT = re.compile(r"\bquant[ie]\s+(?:\w+\s+)?([a-z]{3,})")


_COUNT_TOKEN = re.compile(r"\w+(?:[.,/:]\w+)*")
_NUMBER_WORDS = frozenset("due tre quattro cinque sei sette otto nove dieci undici dodici venti "
                          "trenta cento mille".split())
_PLAIN_COUNT = re.compile(r"\d{1,3}(?:\.\d{3})*h?|\d+:\d+")  # "18", "1.200", "16h", "1:5000"
_YEAR = re.compile(r"(?:19|20)\d{2}")


def holds_count(sentence: str, counted: str) -> bool:
    """Whether a sentence gives a count of the noun: a number just before it ("66 persone",
    "9 nuovi incontri") or a few words after it ("Azienda Sanitaria interessata tra le 18
    AS", "rapporto assistente sociale-abitanti di 1:5000"), or a count word ("unanimità").
    Years, dates, amounts, codes ("M5C2") and the numbers of labels ("Livello 2", "Missione
    6", "n. 47") are not counts."""
    text = normalize(sentence)
    if any(re.search(r"\b" + re.escape(w), text) for w in _config()["count_words"]):
        return True
    tokens = _COUNT_TOKEN.findall(text)
    if counted == "h":  # "quante ore": "16h", "2 ore"
        if any(t[0].isdigit() and t.endswith("h") for t in tokens):
            return True
        nouns = [i for i, t in enumerate(tokens) if t in ("ore", "ora")]
    else:
        nouns = [i for i, t in enumerate(tokens) if t.startswith(counted)]
    if not nouns:
        return False
    labels = _config()["count_labels"]
    for i, token in enumerate(tokens):
        number = token in _NUMBER_WORDS or (
            bool(_PLAIN_COUNT.fullmatch(token)) and not _YEAR.fullmatch(token))
        if not number or (i and tokens[i - 1] in labels) or \
                tokens[i + 1:i + 2] in (["euro"], ["milioni"]):
            continue
        if any(-3 <= i - j < 0 or 0 < i - j <= 5 for j in nouns):
            return True
    return False


def counted_noun(question: str) -> str | None:
    """The noun of "quante persone", "quanti incontri" (normalised prefix), if any."""
    match = _COUNT.search(normalize(question))
    if not match:
        return None
    word = match.group(1)
    if word in stopwords() or word in ("soldi", "euro", "costa", "vale", "anni", "valeva"):
        return None
    if word == "ore":
        return "h"
    return stem(word)[:5]


class _Synonyms(dict):
    """For each key term, the phrases (sets of stems) that stand for it: a passage holds the
    term when it has the term itself or *all* the stems of one phrase ("badante" is held by
    a passage about "caregiver familiare", "ISEE" is not held by "situazione")."""

    def holds(self, term: str, have: set[str]) -> bool:
        return term in have or any(phrase <= have for phrase in self.get(term, ()))

    def any_phrase(self, have: set[str]) -> bool:
        return any(phrase <= have for phrases in self.values() for phrase in phrases)


def _synonyms(qterms: list[str], expansions: list[Expansion]) -> _Synonyms:
    out = _Synonyms({t: [] for t in qterms})
    for exp in expansions:
        trigger = set(terms(exp.term)) | {stem(normalize(exp.term).replace(".", ""))}
        phrases = [frozenset(terms(p)) for p in exp.added if terms(p)]
        for t in qterms:
            if t in trigger or any(t.startswith(x) or x.startswith(t) for x in trigger if x):
                out[t].extend(phrases)
        out.setdefault("", []).extend(phrases)  # the expansion's own phrases
    return out


HEADING_BONUS = 1.2
PLACE_WEIGHT = 0.2  # a resolved place's words in sentence choice
SHARE_OF_TOP = 0.35  # a sentence scoring under this share of the best one is left out


class ExtractiveAnswerer:
    """Composes an Italian answer from the retrieved passages, with [n] citations."""

    name = "extractive"

    def __init__(self, max_sentences: int = 5, min_evidence: float = 0.5,
                 scorer: EvidenceScorer | None = None) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences!r}")
        if not 0 <= min_evidence <= 1:
            raise ValueError(f"min_evidence must be in [0, 1], got {min_evidence!r}")
        self.max_sentences = max_sentences
        self.min_evidence = min_evidence
        self.scorer = scorer or EvidenceScorer()

    def answer(self, question: str, hits: list[Hit], expansions: list[Expansion] | None = None,
               searched: str | None = None, ignore_terms: set[str] | None = None) -> Answer:
        """``ignore_terms``: stems already handled by a filter (a comune resolved to its
        ambito), which the passages need not repeat."""
        expansions = expansions or []
        searched = searched or question
        check = self.scorer.evaluate(searched, hits, expansions, ignore_terms)
        evidence = 0.0 if check.vetoed else check.score
        if evidence < self.min_evidence or not hits:
            return self.refusal(question, searched, expansions, evidence, hits)
        listed = listed_sections(searched, hits)
        if listed:
            return self.list_headings(question, searched, listed, expansions, evidence, hits)
        picked = self.select_for_parts(searched, hits, expansions, ignore_terms)
        if not picked:
            return self.refusal(question, searched, expansions, evidence, hits)
        citations: list[Citation] = []
        by_chunk: dict[str, Citation] = {}
        lines = []
        used: set[str] = set()
        for hit, sentence in picked:
            if sentence in used:
                continue
            cit = by_chunk.get(hit.chunk.id)
            if cit is None:
                cit = citation_for(hit, len(citations) + 1)
                by_chunk[hit.chunk.id] = cit
                citations.append(cit)
            if is_list_item(sentence):
                # a list answers as a list: the items of this passage that share its heading
                items = [x for x in sentences(hit.chunk.text) if is_list_item(x)]
                group = [x for x in items if x not in used] if len(items) <= 12 else [sentence]
                used.update(group)
                cit.highlights.extend(group)
                body = "; ".join(_strip_item(x) for x in group)
                head = hit.chunk.section.rstrip(":.") + ": " if hit.chunk.section else ""
                lines.append(f"{head}{body} [{cit.id}]")
            elif sentence.endswith(":"):
                # a lead-in ("Le azioni ammesse sono state:") says nothing without its list
                group = [x for x in lead_in_items(hit.chunk.text, sentence) if x not in used]
                used.add(sentence)
                used.update(group)
                cit.highlights.extend([sentence, *group])
                body = "; ".join(_strip_item(x) for x in group)
                lines.append(f"{sentence} {body} [{cit.id}]" if body else f"{sentence} [{cit.id}]")
            else:
                used.add(sentence)
                cit.highlights.append(sentence)
                # the innermost heading ("Lista interventi › ... › Servizio sociale
                # professionale": the last) names what the sentence is about ("Pronto
                # intervento sociale — LEPS: in ogni territorio ..."): say it once per passage
                section = (hit.chunk.section or "").rsplit(SECTION_PATH, 1)[-1]
                label = bool(section) and normalize(section) not in normalize(sentence) and (
                    len(sentence.split()) < 8
                    or (len(section.split()) <= 8 and not cit.highlights[:-1]))
                text = f"{section.rstrip(':.')}: {sentence}" if label else sentence
                lines.append(f"{text} [{cit.id}]")
        self._add_document_date(searched, hits, lines, citations, by_chunk)
        return Answer(question, "\n".join(lines), False, citations, expansions, searched,
                      evidence=evidence, hits=hits)

    @staticmethod
    def list_headings(question: str, searched: str, listed: list[Hit],
                      expansions: list[Expansion], evidence: float, hits: list[Hit]
                      ) -> Answer:
        """One line per heading that names what the question lists, in the document's
        order: the heading and the first sentence under it, cited."""
        what = listing_topic(searched)
        notice = messages.text("listed_headings", title=listed[0].chunk.title,
                               count=len(listed), what=what[0] if what else "")
        lines: list[str] = []
        citations: list[Citation] = []
        for hit in listed[:_config()["list_max"]]:
            cit = citation_for(hit, len(citations) + 1)
            citations.append(cit)
            first = next(iter(sentences(hit.chunk.text)), "")
            body = _strip_item(first) if is_list_item(first) else first
            cit.highlights.append(first)
            section = (hit.chunk.section or "").rstrip(":.")
            lines.append(f"{section}: {body} [{cit.id}]" if body else f"{section} [{cit.id}]")
        return Answer(question, "\n".join(lines), False, citations, expansions, searched,
                      notice=notice, evidence=evidence, hits=hits)

    @staticmethod
    def _add_document_date(question: str, hits: list[Hit], lines: list[str],
                           citations: list[Citation], by_chunk: dict[str, Citation]) -> None:
        """A question about when a document came out ("la data dell'articolo", "quando è
        stata pubblicata la notizia") gets the date the document carries at its top, first;
        a date question whose chosen sentences hold no date gets it last."""
        kinds, _counted = asked(question)
        if "date" not in kinds:
            return
        about_document = bool(_config()["document_date"].search(" ".join(words(question))))
        date_pattern = _config()["kinds"]["date"][1]
        if not about_document and any(date_pattern.search(line) for line in lines):
            return
        cited = {c.source for c in citations}
        dated = [h for h in hits if h.chunk.metadata.get("date")]
        dated.sort(key=lambda h: h.chunk.source not in cited)  # a cited document first
        if not dated:
            return
        hit = dated[0]
        cit = by_chunk.get(hit.chunk.id) or next(
            (c for c in citations if c.source == hit.chunk.source), None)
        if cit is None:
            cit = citation_for(hit, len(citations) + 1)
            by_chunk[hit.chunk.id] = cit
            citations.append(cit)
        line = messages.text("document_date", title=hit.chunk.title,
                             date=hit.chunk.metadata["date"]) + f" [{cit.id}]"
        if about_document:
            lines.insert(0, line)
        else:
            lines.append(line)

    def select_for_parts(self, question: str, hits: list[Hit], expansions: list[Expansion],
                         placed: set[str] | None = None) -> list[tuple[Hit, str]]:
        """A question in several parts ("Perché ...? Quali erano gli obiettivi?") gets the
        best sentences of each part in turn, so no part goes unanswered."""
        parts = question_parts(question)
        groups = named_groups(question, hits)
        if len(parts) < 2 and not groups:
            return self.select(question, hits, expansions, placed)
        lists = []
        for part in parts:
            per_group = [self.scored(part, group, expansions, placed)
                         for group in (groups or [hits])]
            # a document that holds nothing close to the best answer to this part adds nothing
            floor = SHARE_OF_TOP * max((x[0][0] for x in per_group if x), default=0.0)
            lists.extend([item for item in items if item[0] >= floor] for items in per_group)
        picked: list[tuple[Hit, str]] = []
        for rank in range(self.max_sentences):
            for items in lists:
                if rank < len(items) and items[rank][1:] not in picked \
                        and len(picked) < self.max_sentences:
                    picked.append(items[rank][1:])
        return picked

    def select(self, question: str, hits: list[Hit], expansions: list[Expansion],
               placed: set[str] | None = None) -> list[tuple[Hit, str]]:
        """The best sentences for a question, best first (see :meth:`scored`)."""
        return [(hit, sentence) for _score, hit, sentence in
                self.scored(question, hits, expansions, placed)]

    def scored(self, question: str, hits: list[Hit], expansions: list[Expansion],
               placed: set[str] | None = None) -> list[tuple[float, Hit, str]]:
        """Sentences that answer, with their scores, best first and at most
        ``max_sentences``: they share the question's words (rare ones count more, generic
        ones less), hold what it asks for (an amount, a date...), and come from the
        better-ranked passages. Long sentences do not win by length alone; sentences under
        ``SHARE_OF_TOP`` of the best score are left out."""
        generic = _config()["generic"]
        qterms = list(dict.fromkeys(terms(question)))
        # a comune already turned into its ambito's filter ("a Matino": Casarano) says where
        # to look, not what to say: sentences that merely name it do not answer; an ambito
        # named as such ("i comuni dell'ambito di Casarano") stays what the question is about
        ambiti = {t for h in hits for t in terms(str(h.chunk.metadata.get("ambito") or ""))}
        placed = (placed or set()) - ambiti
        weights = {t: self.scorer.weight(t) * (0.3 if t in generic else 1.0)
                   * (PLACE_WEIGHT if t in placed else 1.0) for t in qterms}
        synonyms = _synonyms(qterms, expansions)
        extra = {t for phrases in synonyms.values() for phrase in phrases for t in phrase}
        kinds, counted = asked(question)
        patterns = [_config()["kinds"][k][1] for k in kinds]
        base = 0.5 * max(weights.values(), default=1.0)
        hostile = _config()["hostile"]
        acronym_terms: set[str] = set()
        if _DEFINITION.search(normalize(question)):
            for exp in expansions:
                if exp.is_acronym:
                    acronym_terms |= set(terms(exp.term))
        scored: list[tuple[float, int, int, Hit, str]] = []
        for rank, hit in enumerate(hits):
            section_terms = set(terms(hit.chunk.section or ""))
            # words of the document's title say which document, not which sentence
            title_terms = set(terms(hit.chunk.title or ""))
            local = {t: w * (0.5 if t in title_terms else 1.0) for t, w in weights.items()}
            # a heading that the question spells out ("Le finalità dell'intervento", "Punti
            # Unici di Accesso") heads the answer: its sentences count more
            heading = [t for t in section_terms if t not in title_terms and t not in generic]
            heading_match = sum(t in weights or t in extra for t in heading) / len(heading) \
                if heading else 0.0
            for pos, sentence in enumerate(sentences(hit.chunk.text)):
                holds_asked = any(p.search(sentence) for p in patterns) or bool(
                    counted and holds_count(sentence, counted))
                if len(sentence) < 12 and not holds_asked \
                        and not any(ch.isdigit() for ch in sentence):
                    continue  # a lone label says nothing by itself ("FNPS, FNA" may answer)
                if hostile.search(normalize(sentence)):
                    continue  # instructions planted in a document are not answers
                have = set(terms(sentence))
                direct = sum(w for t, w in local.items() if t in have)
                via_section = sum(0.8 * w for t, w in local.items()
                                  if t not in have and t in section_terms)
                synonym = sum(0.6 * w for t, w in local.items()
                              if t not in have and synonyms.holds(t, have))
                loose = 0.3 * len(extra & have)
                # a sentence that spells out an acronym of the question ("Reddito di
                # cittadinanza" for RdC) answers "cos'è" questions
                spelled = sum(weights.get(t, 0.0) for t in acronym_terms
                              if any(p <= have for p in synonyms.get(t, ())))
                score = direct + via_section + synonym + loose + spelled
                if holds_asked:
                    score = (score + base) * 1.6
                if score <= 0:
                    continue
                score *= 1.0 + HEADING_BONUS * heading_match
                score /= 1.0 + len(have) / 40.0
                score *= 1.0 / (1.0 + 0.15 * rank)
                scored.append((score, rank, pos, hit, sentence))
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        if not scored:
            return []
        top = scored[0][0]
        chosen = [x for x in scored if x[0] >= top * SHARE_OF_TOP][:self.max_sentences]
        picked: list[tuple[float, Hit, str]] = []
        seen: set[str] = set()
        for score, _rank, _pos, hit, sentence in chosen:
            key = normalize(sentence)
            if key not in seen:
                seen.add(key)
                picked.append((score, hit, sentence))
        return picked

    def refusal(self, question: str, searched: str, expansions: list[Expansion],
                evidence: float, hits: list[Hit]) -> Answer:
        topic = " ".join(searched.split())[:120].rstrip(" ?!.")
        text = messages.text("refusal", topic=topic) + " " + messages.text("refusal_hint")
        return Answer(question, text, True, [], expansions, searched, evidence=evidence,
                      hits=hits)


def citation_for(hit: Hit, number: int) -> Citation:
    chunk = hit.chunk
    return Citation(number, chunk.source, chunk.title, chunk.page, chunk.section, chunk.text,
                    ambito=chunk.metadata.get("ambito"), doc_type=chunk.metadata.get("doc_type"),
                    chunk_id=chunk.id, date=chunk.metadata.get("date"))


def _strip_item(sentence: str) -> str:
    return _ITEM.sub("", sentence).rstrip(" ;,.")
