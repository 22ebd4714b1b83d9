"""Answers without an LLM: sentence choice, refusal, citations.

The :class:`ExtractiveAnswerer` scores every sentence of the retrieved passages with the
fitted sentence model (features in :mod:`assistant.answer_features`, weights in
``assistant/data/answer_model.yaml``), keeps the best, each followed by the marker of the
passage it comes from, and refuses when the fitted answerability model says the documents
do not answer, or when a phone number, e-mail or web address is asked and absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import detectors, messages
from .answer_features import Candidate, CorpusStats, FeatureExtractor, QuestionEvidence
from .answer_model import AnswerModel
from .expansion import Expansion, listed_definitions
from .ingestion.cleaning import SECTION_PATH
from .passages import (
    bullets_after,
    config,
    is_list_item,
    key_terms,
    lead_in_items,
    salient_terms,
    sentences,
    shown,
    strip_item,
    unheld_measures,
)
from .retrieval import Hit
from .sections import listed_section_ids
from .text import normalize, terms, words

if TYPE_CHECKING:
    from .scope import ScopeCheck

# re-exported: what a question asks for (assistant.detectors)
asked = detectors.asked
asked_kinds = detectors.asked_kinds
counted_noun = detectors.counted_noun
holds_count = detectors.holds_count

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
    match = config()["list"].search(" ".join(words(question)))
    if not match:
        return None
    generic = config()["generic"]
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


class ExtractiveAnswerer:
    """Composes an Italian answer from the retrieved passages, with [n] citations.

    ``model``: the fitted answer model (default: the one shipped for ``embedder``, the
    name of the embedder the index was built with); ``min_evidence``: the
    refusal threshold on the answerability probability (default: the model's, fitted for at
    most 5% false refusals); ``stats``: a callable giving the corpus' term statistics
    (the assistant's lexical index), read on every answer; ``scope``: how close a
    question comes to off-topic examples (without it there is no off-topic refusal).
    """

    name = "extractive"

    def __init__(self, max_sentences: int = 5, min_evidence: float | None = None,
                 model: AnswerModel | None = None,
                 stats: Callable[[], CorpusStats] | None = None,
                 embedder: str | None = None, scope: ScopeCheck | None = None) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences!r}")
        if min_evidence is not None and not 0 <= min_evidence <= 1:
            raise ValueError(f"min_evidence must be in [0, 1], got {min_evidence!r}")
        self.max_sentences = max_sentences
        self.model = model or AnswerModel.load(embedder=embedder)
        self.min_evidence = self.model.threshold if min_evidence is None else min_evidence
        self._stats = stats or CorpusStats
        self.scope = scope

    def warm_up(self) -> None:
        """Embed the off-topic examples now rather than on the first question."""
        if self.scope is not None:
            self.scope.warm_up()

    @property
    def features(self) -> FeatureExtractor:
        return FeatureExtractor(self._stats())

    # ---- evidence --------------------------------------------------------------------------
    def assess(self, question: str, hits: list[Hit], expansions: list[Expansion],
               kinds: list[str], counted: str | None, placed: set[str] | None = None,
               corrected: int = 0, embedded: str | None = None
               ) -> tuple[list[Candidate], QuestionEvidence, float]:
        """The candidate sentences (with probabilities), the question's evidence and the
        probability that the passages answer it. ``embedded``: the text the retriever
        embedded for the question (default ``question``), whose vector is cached, for the
        off-topic check."""
        extractor = self.features
        found = extractor.candidates(question, hits, expansions, kinds, counted, placed)
        for candidate in found:
            candidate.probability = self.model.sentence.probability(candidate.features)
        offtopic = self.scope.similarity(embedded or question) if self.scope is not None \
            else 0.0
        evidence = extractor.question(question, hits, expansions, kinds, counted, found,
                                      placed, corrected, offtopic)
        return found, evidence, self.model.answerable.probability(evidence.features)

    def answer(self, question: str, hits: list[Hit], expansions: list[Expansion] | None = None,
               searched: str | None = None, ignore_terms: set[str] | None = None,
               query: Any = None) -> Answer:
        """``ignore_terms``: stems already handled by a filter (a comune resolved to its
        ambito), which the passages need not repeat; ``query``: the analysed question
        (:class:`assistant.query.Query`), which says what is asked when it is a follow-up."""
        expansions = expansions or []
        searched = searched or question
        focus = query.focus if query is not None else searched
        kinds, counted = asked(focus)
        corrected = len(query.corrections) if query is not None else 0
        embedded = query.dense_text if query is not None else None
        found, evidence, probability = self.assess(searched, hits, expansions, kinds, counted,
                                                   ignore_terms, corrected, embedded)
        if not hits or evidence.crisp_missing or probability < self.min_evidence \
                or self.model.off_topic(evidence.offtopic):
            return self.refusal(question, searched, expansions, probability, hits,
                                placed=_placed(query))
        listed = listed_sections(searched, hits)
        if listed:
            return self.list_headings(question, searched, listed, expansions, probability, hits)
        picked = self.select_for_parts(searched, hits, expansions, kinds, counted, ignore_terms,
                                       found)
        if not picked:
            return self.refusal(question, searched, expansions, probability, hits,
                                placed=_placed(query))
        return self.compose(question, searched, picked, hits, expansions, probability, kinds)

    def compose(self, question: str, searched: str, picked: list[tuple[Hit, str]],
                hits: list[Hit], expansions: list[Expansion], evidence: float,
                kinds: list[str]) -> Answer:
        """The answer's lines, one per chosen sentence (a list item brings its list, a
        lead-in its items), each with the marker of its passage."""
        citations: list[Citation] = []
        by_chunk: dict[str, Citation] = {}
        lines = []
        used: set[str] = set()
        topic = set(key_terms(searched))
        for hit, sentence in picked:
            if sentence in used:
                continue
            cit = by_chunk.get(hit.chunk.id)
            if cit is None:
                cit = citation_for(hit, len(citations) + 1)
                by_chunk[hit.chunk.id] = cit
                citations.append(cit)
            lines.append(_line(hit, sentence, cit, used, topic, kinds))
        self._add_document_date(searched, kinds, hits, lines, citations, by_chunk)
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
        for hit in listed[:config()["list_max"]]:
            cit = citation_for(hit, len(citations) + 1)
            citations.append(cit)
            first = next(iter(sentences(hit.chunk.text)), "")
            body = strip_item(first) if is_list_item(first) else first
            cit.highlights.append(first)
            section = (hit.chunk.section or "").rstrip(":.")
            lines.append(f"{section}: {body} [{cit.id}]" if body else f"{section} [{cit.id}]")
        return Answer(question, "\n".join(lines), False, citations, expansions, searched,
                      notice=notice, evidence=evidence, hits=hits)

    @staticmethod
    def _add_document_date(question: str, kinds: list[str], hits: list[Hit], lines: list[str],
                           citations: list[Citation], by_chunk: dict[str, Citation]) -> None:
        """A question about when a document came out ("la data dell'articolo", "quando è
        stata pubblicata la notizia") gets the date the document carries at its top, first;
        a date question whose chosen sentences hold no date gets it last."""
        if "date" not in kinds:
            return
        about_document = bool(config()["document_date"].search(" ".join(words(question))))
        date_pattern = detectors.kinds()["date"].pattern
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
                         kinds: list[str], counted: str | None, placed: set[str] | None = None,
                         found: list[Candidate] | None = None) -> list[tuple[Hit, str]]:
        """The best sentences; a question in several parts ("Perché ...? Quali erano gli
        obiettivi?") or about several named documents gets the best of each in turn, so no
        part goes unanswered."""
        parts = question_parts(question)
        groups = named_groups(question, hits)
        if len(parts) < 2 and not groups:
            return [(c.hit, c.sentence) for c in self.chosen(found or [])]
        lists: list[list[Candidate]] = []
        for part in parts:
            part_kinds, part_counted = asked(part)
            per_group = []
            for group in (groups or [hits]):
                candidates = self.features.candidates(part, group, expansions,
                                                      part_kinds or kinds,
                                                      part_counted or counted, placed)
                for candidate in candidates:
                    candidate.probability = self.model.sentence.probability(candidate.features)
                per_group.append(self.chosen(candidates))
            # a document that holds nothing close to the best answer to this part adds nothing
            floor = self.model.share * max((x[0].probability for x in per_group if x),
                                           default=0.0)
            # the best-supported document first
            per_group.sort(key=lambda items: -(items[0].probability if items else 0.0))
            lists.extend([c for c in items if c.probability >= floor] for items in per_group)
        picked: list[tuple[Hit, str]] = []
        for rank in range(self.max_sentences):
            for items in lists:
                if rank < len(items) and (items[rank].hit, items[rank].sentence) not in picked \
                        and len(picked) < self.max_sentences:
                    picked.append((items[rank].hit, items[rank].sentence))
        return picked

    def select(self, question: str, hits: list[Hit], expansions: list[Expansion] | None = None,
               placed: set[str] | None = None) -> list[tuple[Hit, str]]:
        """The best sentences for a self-contained question, best first."""
        kinds, counted = asked(question)
        found, _evidence, _p = self.assess(question, hits, list(expansions or []), kinds,
                                           counted, placed)
        return [(c.hit, c.sentence) for c in self.chosen(found)]

    def chosen(self, candidates: list[Candidate]) -> list[Candidate]:
        """The most probable sentences, best first: at most ``max_sentences``, none under
        the model's share of the best probability, no sentence twice."""
        ordered = sorted(candidates, key=lambda c: (-c.probability, c.rank, c.position))
        if not ordered:
            return []
        floor = ordered[0].probability * self.model.share
        out: list[Candidate] = []
        seen: set[str] = set()
        for candidate in ordered:
            if candidate.probability < floor or len(out) >= self.max_sentences:
                break
            key = normalize(candidate.sentence)
            if key not in seen:
                seen.add(key)
                out.append(candidate)
        return out

    def refusal(self, question: str, searched: str, expansions: list[Expansion],
                evidence: float, hits: list[Hit], placed: bool = False) -> Answer:
        """"Non ho trovato ...", with a next step; a question already placed in a comune or
        ambito is not asked for one."""
        topic = " ".join(searched.split())[:120].rstrip(" ?!.")
        hint = messages.text("refusal_hint_placed" if placed else "refusal_hint")
        text = messages.text("refusal", topic=topic) + " " + hint
        return Answer(question, text, True, [], expansions, searched, evidence=evidence,
                      hits=hits)


def _placed(query: Any) -> bool:
    """Whether the question is already placed in a comune or ambito (named or selected)."""
    if query is None:
        return False
    filters = query.filters
    return bool(query.place or filters.ambito or filters.comune or filters.source)


def _line(hit: Hit, sentence: str, cit: Citation, used: set[str],
          topic: set[str] | None = None, kinds: list[str] | None = None) -> str:
    """One answer line for a chosen sentence: a list item answers with the items of its
    passage, a lead-in ("Le azioni ammesse sono state:") with what follows it, another
    sentence with the innermost heading when the sentence does not say what it is about,
    a run-on one by its clauses on the ``topic`` (:func:`assistant.passages.shown`)."""
    if is_list_item(sentence):
        items = [x for x in sentences(hit.chunk.text) if is_list_item(x)]
        group = [x for x in items if x not in used] if len(items) <= 12 else [sentence]
        used.update(group)
        cit.highlights.extend(group)
        body = "; ".join(strip_item(x) for x in group)
        head = hit.chunk.section.rstrip(":.") + ": " if hit.chunk.section else ""
        return f"{head}{body} [{cit.id}]"
    if sentence.endswith(":"):
        group = [x for x in lead_in_items(hit.chunk.text, sentence) if x not in used]
        used.add(sentence)
        used.update(group)
        cit.highlights.extend([sentence, *group])
        body = "; ".join(strip_item(x) for x in group)
        return f"{sentence} {body} [{cit.id}]" if body else f"{sentence} [{cit.id}]"
    used.add(sentence)
    cit.highlights.append(sentence)
    # the innermost heading ("Lista interventi › ... › Servizio sociale professionale": the
    # last) names what the sentence is about: said once per passage
    section = (hit.chunk.section or "").rsplit(SECTION_PATH, 1)[-1]
    # an entry of a list of acronyms ("FICEP First Italian Crossborder eIDAS Proxy") says
    # what it is about: the heading above it would be another entry's
    label = bool(section) and normalize(section) not in normalize(sentence) \
        and listed_definitions(sentence)[:1] != [0] and (
            len(sentence.split()) < 8
            or (len(section.split()) <= 8 and not cit.highlights[:-1]))
    body = shown(sentence, topic or set(), kinds or [])
    # the bullets right after the sentence belong to it (a flattened table row)
    details = [x for x in bullets_after(hit.chunk.text, sentence) if x not in used]
    used.update(details)
    cit.highlights.extend(details)
    if details:
        body = f"{body.rstrip()} " + "; ".join(strip_item(x) for x in details)
    text = f"{section.rstrip(':.')}: {body}" if label else body
    return f"{text} [{cit.id}]"


def citation_for(hit: Hit, number: int) -> Citation:
    chunk = hit.chunk
    return Citation(number, chunk.source, chunk.title, chunk.page, chunk.section, chunk.text,
                    ambito=chunk.metadata.get("ambito"), doc_type=chunk.metadata.get("doc_type"),
                    chunk_id=chunk.id, date=chunk.metadata.get("date"))


__all__ = [
    "Answer",
    "Citation",
    "ExtractiveAnswerer",
    "asked",
    "asked_kinds",
    "citation_for",
    "counted_noun",
    "holds_count",
    "is_list_item",
    "key_terms",
    "lead_in_items",
    "listed_sections",
    "listing_topic",
    "named_groups",
    "question_parts",
    "salient_terms",
    "sentences",
    "unheld_measures",
]
