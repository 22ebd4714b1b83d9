"""Scoring one answer against its reference question, and summing scores up.

Everything here is pure: an :class:`assistant.Answer` (or a hand-made one) and a
:class:`~evals.dataset.QAItem` in, numbers out. Retrieval metrics use ``answer.hits``, the
ranked chunks the answer was composed from.

Definitions (answerable questions unless said otherwise):

* ``doc_hit@k`` – a chunk of a gold document is among the first k hits; ``doc_mrr`` the mean
  of 1/rank of the first one; ``doc_recall@k`` the share of gold documents in the first k.
* ``passage_hit@k``, ``passage_mrr``, ``passage_recall@k`` – the same for gold passages: a
  chunk of a gold document holding one of the facts; recall is the share of facts held by
  the gold passages among the first k hits.
* ``fact_recall`` – mean share of facts found in the answer text; ``all_facts`` – share of
  questions whose answer holds every fact.
* ``fact_any`` – share of questions whose answer text holds at least one fact, refusals
  included (the ``fact_in_answer`` of the external scorer ``score_cli.py``; ``fact_recall``
  counts the share of the facts instead, so it is lower when a question has several).
* ``citation_gold_doc`` – answered questions citing a gold document; ``doc_cited`` – the
  same over every answerable question, refusals included (``doc_any`` of ``score_cli.py``);
  ``citation_support`` –
  facts found in answers that the passage cited for them (the ``[n]`` markers of the line)
  really holds.
* ``refusal_precision`` / ``refusal_recall`` – refusals that were right / unanswerable
  questions refused (out-of-domain ones included); ``in_domain_refusal_recall`` – the
  ``unanswerable`` kind alone; ``ood_refusal_rate`` – ``out_of_domain`` questions refused;
  ``false_refusal_rate`` – answerable questions refused.
* ``multi_turn_passed`` – questions asked after earlier turns (``history``) that passed.
* ``latency_p50_ms`` / ``latency_p95_ms`` – time of :meth:`Assistant.ask`, all questions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .dataset import OUT_OF_DOMAIN, QAItem
from .textmatch import contains

K_VALUES = (1, 3, 5)
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool = True
    percent: bool = True


# The metrics a report shows, in order.
METRICS: tuple[Metric, ...] = (
    Metric("doc_hit@1", "Gold doc hit@1"),
    Metric("doc_hit@3", "Gold doc hit@3"),
    Metric("doc_hit@5", "Gold doc hit@5"),
    Metric("doc_mrr", "Gold doc MRR"),
    Metric("doc_recall@5", "Gold doc recall@5"),
    Metric("passage_hit@1", "Gold passage hit@1"),
    Metric("passage_hit@3", "Gold passage hit@3"),
    Metric("passage_hit@5", "Gold passage hit@5"),
    Metric("passage_mrr", "Gold passage MRR"),
    Metric("passage_recall@5", "Gold passage recall@5"),
    Metric("fact_recall", "Facts in answer"),
    Metric("all_facts", "Answers with all facts"),
    Metric("fact_any", "Answers with a fact"),
    Metric("citation_gold_doc", "Gold doc cited"),
    Metric("doc_cited", "Gold doc cited (all answerable)"),
    Metric("citation_support", "Facts held by cited passage"),
    Metric("refusal_precision", "Refusal precision"),
    Metric("refusal_recall", "Refusal recall"),
    Metric("in_domain_refusal_recall", "Refusal recall, in-domain unanswerable"),
    Metric("ood_refusal_rate", "Out-of-domain refused"),
    Metric("false_refusal_rate", "False refusal rate", higher_is_better=False),
    Metric("passed", "Questions passed"),
    Metric("multi_turn_passed", "Multi-turn questions passed"),
    Metric("judge_faithfulness", "Judge: faithfulness"),
    Metric("judge_relevancy", "Judge: answer relevancy"),
    Metric("latency_p50_ms", "Latency p50 (ms)", higher_is_better=False, percent=False),
    Metric("latency_p95_ms", "Latency p95 (ms)", higher_is_better=False, percent=False),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
# A compact set for tables on a terminal.
HEADLINE = ("doc_hit@5", "passage_mrr", "fact_recall", "all_facts", "citation_support",
            "refusal_recall", "false_refusal_rate", "latency_p95_ms")


def passage_text(chunk: Any) -> str:
    """What a retrieved or cited passage says: its section heading and its text."""
    section = getattr(chunk, "section", None) or ""
    return f"{section}\n{getattr(chunk, 'text', '')}"


@dataclass
class QuestionScore:
    """The outcome of one question under one configuration."""

    id: str
    kind: str
    question: str
    answerable: bool
    facts: tuple[str, ...] = ()
    gold_sources: tuple[str, ...] = ()
    reference_answer: str = ""
    config: str = ""
    turns: int = 0
    answer: str = ""
    refused: bool = False
    error: str | None = None
    latency_ms: float = 0.0
    facts_found: list[str] = field(default_factory=list)
    facts_in_text: list[str] = field(default_factory=list)
    facts_supported: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    doc_rank: int | None = None
    passage_rank: int | None = None
    doc_recall: dict[int, float] = field(default_factory=dict)
    passage_recall: dict[int, float] = field(default_factory=dict)
    judge: dict[str, float | None] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.error is None and not self.refused

    @property
    def out_of_domain(self) -> bool:
        return self.kind == OUT_OF_DOMAIN

    @property
    def cited_gold(self) -> bool:
        return any(c["source"] in self.gold_sources for c in self.citations)

    @property
    def fact_share(self) -> float:
        return len(self.facts_found) / len(self.facts) if self.facts else 0.0

    @property
    def failures(self) -> list[str]:
        """Why this question counts as failed (empty when it passed)."""
        if self.error:
            return [f"error: {self.error}"]
        if not self.answerable:
            return [] if self.refused else ["answered a question the documents cannot answer"]
        if self.refused:
            return ["refused an answerable question"]
        out = []
        missing = [f for f in self.facts if f not in self.facts_found]
        if missing:
            out.append("missing facts: " + "; ".join(missing))
        if not self.cited_gold:
            out.append("no gold document cited")
        unsupported = [f for f in self.facts_found if f not in self.facts_supported]
        if unsupported:
            out.append("facts not in the cited passage: " + "; ".join(unsupported))
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        data["facts"] = list(self.facts)
        data["gold_sources"] = list(self.gold_sources)
        data["doc_recall"] = {str(k): v for k, v in self.doc_recall.items()}
        data["passage_recall"] = {str(k): v for k, v in self.passage_recall.items()}
        data["passed"] = self.passed
        data["failures"] = self.failures
        return data


def score_question(item: QAItem, answer: Any | None, latency_ms: float = 0.0,
                   error: str | None = None, config: str = "",
                   k_values: Iterable[int] = K_VALUES) -> QuestionScore:
    """Score ``answer`` (an :class:`assistant.Answer`, or None when ``ask`` raised)."""
    score = QuestionScore(item.id, item.kind, item.question, item.answerable, item.facts,
                          item.gold_sources, item.reference_answer, config,
                          turns=len(item.history), latency_ms=latency_ms, error=error)
    gold = set(item.gold_sources)
    hits = list(getattr(answer, "hits", None) or []) if answer is not None else []
    held_by_rank: list[set[str]] = []
    for rank, hit in enumerate(hits, 1):
        chunk = hit.chunk
        is_gold_doc = chunk.source in gold
        held = {f for f in item.facts if contains(passage_text(chunk), f)} if is_gold_doc \
            else set()
        held_by_rank.append(held)
        if is_gold_doc and score.doc_rank is None:
            score.doc_rank = rank
        if held and score.passage_rank is None:
            score.passage_rank = rank
        score.hits.append({"rank": rank, "source": chunk.source, "section": chunk.section,
                           "page": chunk.page, "chunk_id": chunk.id, "gold_doc": is_gold_doc,
                           "facts": sorted(held)})
    for k in k_values:
        sources = {h["source"] for h in score.hits[:k]}
        score.doc_recall[k] = len(gold & sources) / len(gold) if gold else 0.0
        held_k = set().union(*held_by_rank[:k]) if held_by_rank else set()
        score.passage_recall[k] = len(held_k) / len(item.facts) if item.facts else 0.0
    if answer is None:
        return score
    score.answer = answer.answer
    score.refused = bool(answer.refused)
    for cit in answer.citations:
        score.citations.append({"id": cit.id, "source": cit.source, "section": cit.section,
                                "page": cit.page, "text": cit.text})
    score.facts_in_text = [f for f in item.facts if contains(answer.answer, f)]
    if score.refused:
        return score
    score.facts_found = [f for f in item.facts if contains(answer.answer, f)]
    score.facts_supported = [f for f in score.facts_found
                             if _supported(f, answer.answer, answer.citations)]
    return score


def _supported(fact: str, text: str, citations: list[Any]) -> bool:
    """Whether a passage cited for the fact holds it: the markers of the lines that state the
    fact, or every citation when those lines carry none."""
    by_id = {c.id: c for c in citations}
    markers = {int(m) for line in text.splitlines() if contains(line, fact)
               for m in _MARKER.findall(line)}
    cited = [by_id[m] for m in markers if m in by_id] or list(citations)
    return any(contains(passage_text(c), fact) for c in cited)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def summarize(scores: list[QuestionScore], k_values: Iterable[int] = K_VALUES
              ) -> dict[str, float | int | None]:
    """Every metric over ``scores``; None where a metric has nothing to measure."""
    k_values = tuple(k_values)
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    answered = [s for s in answerable if s.answered]
    refused = [s for s in scores if s.refused]
    out: dict[str, float | int | None] = {
        "questions": len(scores), "answerable": len(answerable),
        "unanswerable": len(unanswerable), "errors": sum(1 for s in scores if s.error),
    }
    for kind, rank_of, recall_of in (
            ("doc", lambda s: s.doc_rank, lambda s: s.doc_recall),
            ("passage", lambda s: s.passage_rank, lambda s: s.passage_recall)):
        for k in k_values:
            out[f"{kind}_hit@{k}"] = _mean([1.0 if (rank_of(s) or math.inf) <= k else 0.0
                                           for s in answerable])
        out[f"{kind}_mrr"] = _mean([1.0 / rank_of(s) if rank_of(s) else 0.0
                                    for s in answerable])
        for k in k_values:
            out[f"{kind}_recall@{k}"] = _mean([recall_of(s).get(k, 0.0) for s in answerable])
    out["fact_recall"] = _mean([s.fact_share for s in answerable])
    out["all_facts"] = _mean([1.0 if s.facts and len(s.facts_found) == len(s.facts) else 0.0
                              for s in answerable])
    out["fact_any"] = _mean([1.0 if s.facts_in_text else 0.0 for s in answerable])
    out["citation_gold_doc"] = _mean([1.0 if s.cited_gold else 0.0 for s in answered])
    out["doc_cited"] = _mean([1.0 if s.cited_gold else 0.0 for s in answerable])
    found = sum(len(s.facts_found) for s in answered)
    out["citation_support"] = _share(sum(len(s.facts_supported) for s in answered), found)
    out["refusal_precision"] = _share(sum(1 for s in refused if not s.answerable),
                                      len(refused))
    out["refusal_recall"] = _share(sum(1 for s in unanswerable if s.refused),
                                   len(unanswerable))
    in_domain = [s for s in unanswerable if not s.out_of_domain]
    out["in_domain_refusal_recall"] = _share(sum(1 for s in in_domain if s.refused),
                                             len(in_domain))
    out_of_domain = [s for s in unanswerable if s.out_of_domain]
    out["ood_refusal_rate"] = _share(sum(1 for s in out_of_domain if s.refused),
                                     len(out_of_domain))
    out["false_refusal_rate"] = _share(sum(1 for s in answerable if s.refused),
                                       len(answerable))
    out["passed"] = _mean([1.0 if s.passed else 0.0 for s in scores])
    out["multi_turn_passed"] = _mean([1.0 if s.passed else 0.0 for s in scores if s.turns])
    for name in ("faithfulness", "relevancy"):
        values = [s.judge[name] for s in scores if s.judge.get(name) is not None]
        out[f"judge_{name}"] = _mean(values)  # type: ignore[arg-type]
    latencies = [s.latency_ms for s in scores if s.error is None]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    out["latency_max_ms"] = max(latencies) if latencies else None
    return out


def summarize_by_kind(scores: list[QuestionScore]) -> dict[str, dict[str, Any]]:
    """:func:`summarize` for each kind of question, kinds in first-seen order."""
    kinds = list(dict.fromkeys(s.kind for s in scores))
    return {kind: summarize([s for s in scores if s.kind == kind]) for kind in kinds}
