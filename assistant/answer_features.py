"""Features of candidate sentences and of whole questions, for the fitted answer model.

Every number the extractive answerer decides with is computed here and weighed by the
model in ``assistant/data/answer_model.yaml`` (fitted by ``python -m evals fit``); no weight
is set by hand. Term weights are inverse document frequencies of the indexed corpus.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from . import detectors
from .expansion import Expansion
from .passages import (
    DEFINITION,
    Synonyms,
    config,
    is_list_item,
    key_terms,
    salient_terms,
    sentences,
    synonyms_for,
    unheld_measures,
)
from .retrieval import Hit
from .text import normalize, stem, terms, words

SENTENCE_FEATURES = (
    "direct", "direct_rel", "via_section", "synonym", "loose", "spelled", "asked",
    "asked_missing", "heading", "title_share", "place_share", "generic_share", "length",
    "rank", "position", "hit_score", "dense", "list_item", "lead_in", "digit",
    "coverage_rel", "dense_rel", "asked_direct",
)
QUESTION_FEATURES = (
    "coverage_best", "coverage_union", "unknown", "missing_salient", "unheld", "kind_missing",
    "asks", "top_p", "margin", "top_dense", "translated", "n_terms",
    "top_direct", "corrected", "unknown_untranslated", "unknown_words", "salient_missing_any",
    "unknown_specific",
)


@dataclass(frozen=True)
class CorpusStats:
    """What the answerer knows of the corpus: chunk frequencies of stems, chunk count."""

    df: Mapping[str, int] = field(default_factory=dict)
    n: int = 1

    def weight(self, term: str) -> float:
        return math.log(1 + (max(1, self.n) + 1) / (self.df.get(term, 0) + 0.5))

    def known(self, term: str) -> bool:
        return not self.df or term in self.df


@dataclass
class Candidate:
    """A sentence of a retrieved passage that may answer, with its features."""

    hit: Hit
    rank: int
    position: int
    sentence: str
    features: dict[str, float]
    probability: float = 0.0


@dataclass
class QuestionEvidence:
    """How the retrieved passages bear on the question as a whole."""

    features: dict[str, float]
    # phone/e-mail/URL asked and absent, or names no document of the corpus holds
    crisp_missing: list[str] = field(default_factory=list)
    missing_salient: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    # how much closer the question is to an off-topic example than to the best passage
    offtopic: float = 0.0


class FeatureExtractor:
    """Computes candidate-sentence and question features over retrieved passages."""

    def __init__(self, stats: CorpusStats | None = None) -> None:
        self.stats = stats or CorpusStats()

    # ---- sentences -------------------------------------------------------------------------
    def candidates(self, question: str, hits: Sequence[Hit], expansions: Sequence[Expansion],
                   kinds: Sequence[str], counted: str | None,
                   placed: set[str] | None = None) -> list[Candidate]:
        """Every sentence of the passages that shares something with the question."""
        asked = self._asked(question, hits, expansions, kinds, counted, placed)
        hostile = config()["hostile"]
        out: list[Candidate] = []
        # fused scores differ in scale between retrievers (scaled scores, reciprocal ranks,
        # BM25 alone): relative to the best hit they mean the same
        top_score = max((float(h.score) for h in hits), default=0.0) or 1.0
        for rank, hit in enumerate(hits):
            place = _HitPlace.of(hit, rank, top_score, asked)
            for pos, sentence in enumerate(sentences(hit.chunk.text)):
                if hostile.search(normalize(sentence)):
                    continue  # instructions planted in a document are not answers
                feats = _sentence_features(asked, place, pos, sentence)
                if feats is not None:
                    out.append(Candidate(hit, rank, pos, sentence, feats))
        _add_relative(out)
        return out

    def _asked(self, question: str, hits: Sequence[Hit], expansions: Sequence[Expansion],
               kinds: Sequence[str], counted: str | None, placed: set[str] | None) -> _Asked:
        qterms = list(dict.fromkeys(terms(question)))
        # a comune resolved to its ambito's filter says where to look, not what to say; an
        # ambito named as such stays what the question is about
        ambiti = {t for h in hits for t in terms(str(h.chunk.metadata.get("ambito") or ""))}
        placed = (placed or set()) - ambiti
        weights = {t: self.stats.weight(t) for t in qterms}
        synonyms = synonyms_for(qterms, list(expansions))
        acronym_terms: set[str] = set()
        if DEFINITION.search(normalize(question)):
            for exp in expansions:
                if exp.is_acronym:
                    acronym_terms |= set(terms(exp.term))
        return _Asked(
            qterms, weights, placed, synonyms,
            # coverage counts the words the passages must say; the placed ones are said by
            # the filter (place_share tells how much of a sentence is merely the place)
            total=sum(w for t, w in weights.items() if t not in placed) or 1.0,
            total_all=sum(weights.values()) or 1.0,
            extra={t for phrases in synonyms.values() for phrase in phrases for t in phrase},
            patterns=[detectors.kinds()[k].pattern for k in kinds if k in detectors.kinds()],
            counted=counted, acronym_terms=acronym_terms, generic=config()["generic"])

    # ---- the question ----------------------------------------------------------------------
    def question(self, question: str, hits: Sequence[Hit], expansions: Sequence[Expansion],
                 kinds: Sequence[str], counted: str | None, candidates: Sequence[Candidate],
                 ignore: set[str] | None = None, corrected: int = 0,
                 offtopic: float = 0.0) -> QuestionEvidence:
        """Coverage of the question's words by the passages, words unknown to the corpus,
        names the passages lack, whether what is asked is there, the best sentences;
        ``offtopic``: how close the question comes to off-topic examples
        (:class:`assistant.scope.ScopeCheck`), which the evidence compares with how close
        it comes to the best passage."""
        # words that say what is asked ("indirizzo web", "orari") are looked for by the
        # detectors, not as the topic
        ignore = (ignore or set()) | detectors.asking_terms()
        qterms = [t for t in key_terms(question) if t not in ignore]
        topic = [t for t in qterms if self.stats.known(t)]
        synonyms = synonyms_for(qterms, list(expansions))
        texts = [" ".join((h.chunk.title, h.chunk.section or "", h.chunk.text)) for h in hits]
        passages = [set(terms(text)) for text in texts]
        union = set().union(*passages) if passages else set()
        salient = [t for t in salient_terms(question) if t not in ignore]
        missing = [t for t in salient if not synonyms.holds(t, union)]
        unheld = unheld_measures(question, texts) if hits else []
        total = sum(self.stats.weight(t) for t in topic)

        def coverage(have: set[str]) -> float:
            if not total:
                return 0.0
            return sum(self.stats.weight(t) for t in topic if synonyms.holds(t, have)) / total

        best = max((coverage(p) for p in passages), default=0.0)
        probs = sorted((c.probability for c in candidates), reverse=True)
        crisp, kind_missing = self._missing_kinds(hits, kinds, counted, topic, synonyms,
                                                  detectors.alternatives(question, list(kinds)))
        feats = {
            **self._unknown(question, qterms, synonyms),
            "coverage_best": best,
            "coverage_union": coverage(union),
            "missing_salient": len(missing) / len(salient) if salient else 0.0,
            "unheld": float(bool(unheld)),
            "kind_missing": float(kind_missing),
            "asks": float(bool(kinds or counted)),
            "top_p": probs[0] if probs else 0.0,
            "margin": probs[0] - probs[1] if len(probs) > 1 else (probs[0] if probs else 0.0),
            "top_dense": max((float(h.dense_score) for h in hits), default=0.0),
            "translated": float(any(synonyms.any_phrase(p) for p in passages)),
            "n_terms": math.log1p(len(topic)),
            "top_direct": max((c.features["direct"] for c in candidates), default=0.0),
            "corrected": float(corrected),
        }
        # words no document uses, where no everyday phrasing of the question was found
        feats["unknown_untranslated"] = feats["unknown"] * (1.0 - feats["translated"])
        feats["salient_missing_any"] = float(bool(missing))
        # a name, acronym or number that no document of the corpus holds at all ("Maglie",
        # "IMU", "Australia"): the documents cannot speak of it, whatever else matches
        crisp += [t for t in missing if self.stats.df and not self.stats.known(t)]
        return QuestionEvidence(feats, crisp, missing + unheld, topic,
                                offtopic - feats["top_dense"] if offtopic else 0.0)

    def _unknown(self, question: str, qterms: list[str], synonyms: Synonyms
                 ) -> dict[str, float]:
        """The question's words no document uses (and no synonym stands for): their share
        of the question's weight, where they weigh as the rarest word ("tiramisù",
        "Australia"), their number, and how specific they are in Italian at large."""
        rarest = self.stats.weight("\x00")
        unknown = {t for t in qterms if not self.stats.known(t) and not synonyms.get(t)}
        all_weight = sum(self.stats.weight(t) if self.stats.known(t) else rarest for t in qterms)
        return {"unknown": sum(rarest for t in qterms if t in unknown) / all_weight
                if all_weight else 0.0,
                "unknown_words": math.log1p(sum(t in unknown for t in qterms)),
                "unknown_specific": _specificity(question, unknown)}

    @staticmethod
    def _missing_kinds(hits: Sequence[Hit], kinds: Sequence[str], counted: str | None,
                       topic: list[str], synonyms: Synonyms,
                       groups: Sequence[Sequence[str]] = ()) -> tuple[list[str], bool]:
        """The crisp kinds asked that no topical sentence holds, and whether a kind asked
        is missing so: of kinds the same words ask (``groups``, "di quanto": an amount or a
        percentage) one held is enough."""
        wanted = [k for k in kinds if k in detectors.kinds() and not detectors.kinds()[k].loose]
        if counted:
            wanted.append("count")
        topical = [t for t in topic if t != counted]
        missing: list[str] = []
        for name in wanted:
            kind = detectors.kinds()[name]
            if not any(_topical_holds(hit, sentence, name, kind, counted, topical, synonyms)
                       for hit in hits for sentence in sentences(hit.chunk.text)):
                missing.append(name)
        crisp = [k for k in missing if detectors.kinds()[k].crisp]
        held = set(wanted) - set(missing)
        either = [k for k in missing for g in groups if k in g and held & set(g)]
        return crisp, bool(set(missing) - set(either))


@dataclass(frozen=True)
class _Asked:
    """The question's side of the sentence features: its stems and their weights, what a
    filter already says, synonyms, detectors of what is asked."""

    qterms: list[str]
    weights: dict[str, float]
    placed: set[str]
    synonyms: Synonyms
    total: float
    total_all: float
    extra: set[str]
    patterns: list[re.Pattern[str]]
    counted: str | None
    acronym_terms: set[str]
    generic: set[str]


@dataclass(frozen=True)
class _HitPlace:
    """A passage's side: its rank and score, and its heading's and title's stems."""

    hit: Hit
    rank: int
    score: float
    section_terms: set[str]
    title_terms: set[str]
    heading: float

    @classmethod
    def of(cls, hit: Hit, rank: int, top_score: float, asked: _Asked) -> _HitPlace:
        section_terms = set(terms(hit.chunk.section or ""))
        title_terms = set(terms(hit.chunk.title or ""))
        heading = [t for t in section_terms if t not in title_terms and t not in asked.generic]
        match = sum(t in asked.weights or t in asked.extra for t in heading) / len(heading) \
            if heading else 0.0
        return cls(hit, rank, float(hit.score) / top_score, section_terms, title_terms, match)


def _sentence_features(a: _Asked, place: _HitPlace, pos: int, sentence: str
                       ) -> dict[str, float] | None:
    """A sentence's features, or None when it shares nothing with the question."""
    have = set(terms(sentence))
    held = [t for t in a.qterms if t in have]
    holds_asked = any(p.search(sentence) for p in a.patterns) or bool(
        a.counted and detectors.holds_count(sentence, a.counted))
    loose = len(a.extra & have)
    if not held and not holds_asked and not loose and \
            not any(t in place.section_terms for t in a.qterms):
        return None
    w, total = a.weights, a.total
    return {
        "direct": sum(w[t] for t in held if t not in a.placed) / total,
        "via_section": sum(w[t] for t in a.qterms
                           if t not in have and t in place.section_terms) / total,
        "synonym": sum(w[t] for t in a.qterms if t not in have
                       and a.synonyms.holds(t, have)) / total,
        "loose": math.log1p(loose),
        "spelled": float(any(any(p <= have for p in a.synonyms.get(t, ()))
                             for t in a.acronym_terms)),
        "asked": float(holds_asked),
        "asked_missing": float(bool(a.patterns or a.counted) and not holds_asked),
        "heading": place.heading,
        "title_share": sum(w[t] for t in held if t in place.title_terms) / total,
        "place_share": sum(w[t] for t in held if t in a.placed) / a.total_all,
        "generic_share": sum(w[t] for t in held if t in a.generic) / total,
        "length": math.log1p(len(have)),
        "rank": 1.0 / (1 + place.rank),
        "position": 1.0 / (1 + pos),
        "hit_score": place.score,
        "dense": float(place.hit.dense_score),
        "list_item": float(is_list_item(sentence)),
        "lead_in": float(sentence.endswith(":")),
        "digit": float(any(ch.isdigit() for ch in sentence)),
    }


def _add_relative(out: list[Candidate]) -> None:
    """The features relative to the question's best candidate: what the sentence has that
    the others lack."""
    for name, source in (("direct_rel", "direct"), ("dense_rel", "dense")):
        best = max((c.features[source] for c in out), default=0.0) or 1.0
        for c in out:
            c.features[name] = c.features[source] / best
    for c in out:
        f = c.features
        f["coverage_rel"] = f["direct"] + f["via_section"] + f["synonym"]
        f["asked_direct"] = f["asked"] * f["direct"]
    best = max((c.features["coverage_rel"] for c in out), default=0.0) or 1.0
    for c in out:
        c.features["coverage_rel"] /= best


def _specificity(question: str, unknown: set[str]) -> float:
    """How specific the question's words unknown to the corpus are in Italian at large
    (wordfreq's bundled Zipf frequencies, 0 to about 8): a rare term the corpus lacks
    ("tiramisù", "passaporto") says the question is about something else; an everyday
    word it lacks ("marito", "addosso") does not. 0 when every word is known."""
    if not unknown:
        return 0.0
    from wordfreq import zipf_frequency

    zipfs = [zipf_frequency(w, "it") for w in words(question) if stem(w) in unknown]
    return max(0.0, 8.0 - min(zipfs)) / 8.0 if zipfs else 0.0


def _topical_holds(hit: Hit, sentence: str, name: str, kind: detectors.Kind,
                   counted: str | None, topical: list[str], synonyms: Synonyms) -> bool:
    if name == "count":
        ok = bool(counted) and detectors.holds_count(sentence, counted or "")
    else:
        ok = bool(kind.pattern.search(sentence))
    if not ok:
        return False
    have = set(terms(sentence + " " + (hit.chunk.section or "")))
    return not topical or any(synonyms.holds(t, have) for t in topical)


__all__ = [
    "QUESTION_FEATURES",
    "SENTENCE_FEATURES",
    "Candidate",
    "CorpusStats",
    "FeatureExtractor",
    "QuestionEvidence",
]
