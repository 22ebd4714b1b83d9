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
from .datafiles import load_yaml
from .expansion import Expansion
from .retrieval import Hit
from .text import normalize, stem, terms, words


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
                "citations": [c.as_json() for c in self.citations]}


@lru_cache(maxsize=1)
def _config() -> dict[str, Any]:
    data = load_yaml("answering.yaml")
    kinds = {}
    for name, spec in data["kinds"].items():
        kinds[name] = (tuple(tuple(normalize(w) for w in a.split()) for a in spec["asks"]),
                       re.compile(spec["pattern"]), bool(spec.get("required")))
    generic = frozenset(stem(normalize(w)) for w in data["generic_words"])
    return {"kinds": kinds, "generic": generic}


def asked_kinds(question: str) -> list[str]:
    """What the question asks for: amount, date, count, phone, email, hours, address."""
    qwords = words(question)
    found = []
    for name, (asks, _pattern, _req) in _config()["kinds"].items():
        for phrase in asks:
            n = len(phrase)
            if any(all(qwords[i + j].startswith(phrase[j]) for j in range(n))
                   for i in range(len(qwords) - n + 1)):
                found.append(name)
                break
    return found


def key_terms(question: str) -> list[str]:
    """The question's topic: stemmed content words minus generic service words."""
    generic = _config()["generic"]
    out: list[str] = []
    for term in terms(question):
        if term not in generic and term not in out:
            out.append(term)
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ü“\"(0-9])")


def sentences(text: str) -> list[str]:
    """Sentences and list items of a passage."""
    out = []
    for para in re.split(r"\n\s*\n|\n(?=[§•\-–*]\s)", text):
        para = " ".join(para.split())
        if not para:
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(para) if len(s.strip()) > 2)
    return out


class EvidenceScorer:
    """How well the retrieved passages support a question, from 0 to 1.

    The share (weighted by rarity) of the question's key terms that one passage holds,
    counting a term as held when the passage has it or one of its expansions; the kinds of
    fact that cannot be guessed (phone, e-mail, hours, address) must appear in the passage.
    """

    def __init__(self, document_frequency: dict[str, int] | None = None,
                 n_chunks: int = 1) -> None:
        self.df = document_frequency or {}
        self.n = max(1, n_chunks)

    def weight(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n + 1) / (df + 0.5))

    def score(self, question: str, hits: list[Hit], expansions: list[Expansion]) -> float:
        qterms = key_terms(question)
        if not hits:
            return 0.0
        if not qterms:
            return 0.0 if not expansions else 1.0
        synonyms = _synonyms(qterms, expansions)
        required = [k for k in asked_kinds(question) if _config()["kinds"][k][2]]
        best = 0.0
        total = sum(self.weight(t) for t in qterms)
        for hit in hits:
            chunk = hit.chunk
            have = set(terms(" ".join((chunk.title, chunk.section or "", chunk.text))))
            got = sum(self.weight(t) for t in qterms if t in have or synonyms[t] & have)
            value = got / total if total else 0.0
            if required and not all(_config()["kinds"][k][1].search(chunk.text)
                                    for k in required):
                value = min(value, 0.0)
            best = max(best, value)
        return best


def _synonyms(qterms: list[str], expansions: list[Expansion]) -> dict[str, set[str]]:
    """For each key term, the stems its expansions add (so "badante" is held by a passage
    about "caregiver familiare")."""
    out: dict[str, set[str]] = {t: set() for t in qterms}
    for exp in expansions:
        trigger = set(terms(exp.term)) | {stem(normalize(exp.term).replace(".", ""))}
        added = {t for phrase in exp.added for t in terms(phrase)}
        for t in qterms:
            if t in trigger or any(t.startswith(x) or x.startswith(t) for x in trigger if x):
                out[t] |= added
    return out


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
               searched: str | None = None) -> Answer:
        expansions = expansions or []
        searched = searched or question
        evidence = self.scorer.score(searched, hits, expansions)
        if evidence < self.min_evidence or not hits:
            return self.refusal(question, searched, expansions, evidence, hits)
        picked = self.select(searched, hits, expansions)
        if not picked:
            return self.refusal(question, searched, expansions, evidence, hits)
        citations: list[Citation] = []
        by_chunk: dict[str, Citation] = {}
        lines = []
        for hit, sentence in picked:
            cit = by_chunk.get(hit.chunk.id)
            if cit is None:
                cit = citation_for(hit, len(citations) + 1)
                by_chunk[hit.chunk.id] = cit
                citations.append(cit)
            cit.highlights.append(sentence)
            lines.append(f"{_with_context(sentence, hit)} [{cit.id}]")
        return Answer(question, "\n".join(lines), False, citations, expansions, searched,
                      evidence=evidence, hits=hits)

    def select(self, question: str, hits: list[Hit],
               expansions: list[Expansion]) -> list[tuple[Hit, str]]:
        qterms = key_terms(question)
        synonyms = _synonyms(qterms, expansions)
        extra = {t for s in synonyms.values() for t in s}
        kinds = asked_kinds(question)
        patterns = [_config()["kinds"][k][1] for k in kinds]
        scored: list[tuple[float, int, int, Hit, str]] = []
        for rank, hit in enumerate(hits):
            section_terms = set(terms(hit.chunk.section or ""))
            for pos, sentence in enumerate(sentences(hit.chunk.text)):
                have = set(terms(sentence))
                direct = sum(self.scorer.weight(t) for t in qterms if t in have)
                via_section = sum(0.5 * self.scorer.weight(t) for t in qterms
                                  if t not in have and t in section_terms)
                synonym = 0.6 * sum(self.scorer.weight(t) for t in qterms
                                    if t not in have and synonyms[t] & have)
                loose = 0.3 * len(extra & have)
                score = direct + via_section + synonym + loose
                if score <= 0:
                    continue
                if patterns and any(p.search(sentence) for p in patterns):
                    score *= 1.6
                score *= 1.0 / (1.0 + 0.15 * rank)
                scored.append((score, rank, pos, hit, sentence))
        scored.sort(key=lambda x: (-x[0], x[1], x[2]))
        if not scored:
            return []
        top = scored[0][0]
        picked: list[tuple[Hit, str]] = []
        seen: set[str] = set()
        for score, _rank, _pos, hit, sentence in scored:
            if score < top * 0.35 or len(picked) >= self.max_sentences:
                break
            key = normalize(sentence)
            if key in seen:
                continue
            seen.add(key)
            picked.append((hit, sentence))
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
                    chunk_id=chunk.id)


def _with_context(sentence: str, hit: Hit) -> str:
    """A list item ("il consolidamento dell'ADI;") gets its heading as context."""
    sentence = sentence.rstrip(" ;,")
    if sentence[:1].islower() and hit.chunk.section:
        return f"{hit.chunk.section.rstrip(':.')}: {sentence}"
    return sentence
