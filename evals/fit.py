"""``python -m evals fit``: fit the answer model on the suite and report it leave-one-out.

For every reference set of the suite (``evals/suite.yaml``) the corpus is indexed (cached
like the runner's), every question is analysed and retrieved as the assistant does, and
the features of every candidate sentence and of the question are recorded
(:mod:`assistant.answer_features`). Then:

* the sentence model is a logistic regression of "the sentence holds a reference fact";
* the answerability model a logistic regression of "the question is answerable", over the
  question's features (the sentence model's best probability among them);
* the refusal threshold is the highest that refuses at most ``max_false_refusal`` of the
  training sets' answerable questions;
* the share (sentences kept whose probability reaches that share of the best one) is the one
  of ``SHARES`` with the best mean F1 of chosen sentences against fact-holding ones.

Each set is also held out in turn: fitted on the others, scored on it (simulated answers:
the chosen sentences hold a fact; refusals). The model fitted on every set is written to
``assistant/data/answer_model.yaml`` (``answer_model.<embedder>.yaml`` for another embedder than
the default, with ``--base-settings``) unless ``--dry-run``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from assistant import Assistant, Filters, Settings, Turn
from assistant.answer_features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    Candidate,
    FeatureExtractor,
)
from assistant.answer_model import AnswerModel, LinearModel, model_file
from assistant.detectors import asked

from .dataset import QAItem
from .runner import DEFAULT_CACHE, IndexCache
from .suite import ReferenceSet, Suite
from .textmatch import contains

SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
TIE = 0.005  # recall differences under half a point are noise on sets of 30-150 questions
MAX_FALSE_REFUSAL = 0.05
THRESHOLD_RULES = ("in-sample", "cross-validated")
THRESHOLD_RULE = "in-sample"
REGULARISATION = 0.1  # scikit-learn C; 1.0 and 0.1 compared leave-one-set-out in NOTES.md
DATA_DIR = Path(__file__).resolve().parent.parent / "assistant" / "data"


@dataclass
class QuestionRecord:
    """One question's candidates and evidence, as the answerer would see them."""

    set_name: str
    item: QAItem
    candidates: list[Candidate]
    extractor: FeatureExtractor
    args: tuple  # (searched, hits, expansions, kinds, counted, ignore, corrected, offtopic)
    question_features: dict[str, float] = field(default_factory=dict)
    crisp_missing: bool = False
    offtopic: float = 0.0  # QuestionEvidence.offtopic
    # which reference facts (their indexes in item.facts) each candidate holds
    facts_held: list[frozenset[int]] = field(default_factory=list)

    @property
    def labels(self) -> list[bool]:
        """Whether each candidate holds a reference fact: the sentence model's labels."""
        return [bool(held) for held in self.facts_held]

    def fact_share(self, chosen: Sequence[int]) -> float:
        """The share of the question's reference facts the chosen candidates hold."""
        if not self.item.facts:
            return 0.0
        found: set[int] = set()
        for i in chosen:
            found |= self.facts_held[i]
        return len(found) / len(self.item.facts)


def collect(reference: ReferenceSet, cache: IndexCache, base: Settings,
            progress: Callable[[str], None]) -> list[QuestionRecord]:
    """Index the set's corpus and record every question's candidates."""
    settings = base.replace(corpus_dir=reference.corpus)
    folder, _existed = cache.folder(reference.corpus, settings)
    bot = Assistant(settings.replace(index_dir=folder))
    bot.ingest(reference.corpus)
    bot.warm_up()
    progress(f"{reference.name}: {folder}")
    records = []
    scope = getattr(bot.answerer, "scope", None)  # the assistant's own off-topic check
    try:
        for item in reference.items():
            history = [Turn(q, a) for q, a in item.history]
            filters = Filters(**item.filters) if item.filters else None
            query = bot.analyze(item.question, history, filters)
            hits = bot.retrieve(query)
            kinds, counted = asked(query.focus)
            extractor = FeatureExtractor(bot.stats)
            ignore = set(query.ignore)
            candidates = extractor.candidates(query.searched, hits, list(query.expansions),
                                              kinds, counted, ignore)
            held = [frozenset(i for i, f in enumerate(item.facts) if contains(c.sentence, f))
                    for c in candidates]
            offtopic = scope.similarity(query.dense_text or query.searched) \
                if scope is not None else 0.0
            records.append(QuestionRecord(
                reference.name, item, candidates, extractor,
                (query.searched, hits, list(query.expansions), kinds, counted, ignore,
                 len(query.corrections), offtopic), facts_held=held))
    finally:
        bot.close()
    return records


def _standardised_fit(x: np.ndarray, y: np.ndarray, names: Sequence[str],
                      groups: Sequence[str]) -> LinearModel:
    """Logistic regression on standardised features; every set (``groups``) and, within
    it, both classes weigh the same, so a large set does not decide for the others."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    weights = np.ones(len(y))
    for group in set(groups):
        for label in (False, True):
            mask = np.array([g == group for g in groups]) & (y == label)
            if mask.any():
                weights[mask] = len(y) / (2 * len(set(groups)) * mask.sum())
    model = LogisticRegression(C=REGULARISATION, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    return LinearModel(tuple(names), tuple(float(w) for w in model.coef_[0]),
                       float(model.intercept_[0]), tuple(float(m) for m in mean),
                       tuple(float(s) for s in scale))


def _matrix(rows: Sequence[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[row.get(n, 0.0) for n in names] for row in rows], dtype=float)


def _score_sentences(records: Sequence[QuestionRecord], model: LinearModel) -> None:
    for record in records:
        for candidate in record.candidates:
            candidate.probability = model.probability(candidate.features)
        searched, hits, expansions, kinds, counted, ignore, corrected, offtopic = record.args
        evidence = record.extractor.question(searched, hits, expansions, kinds, counted,
                                             record.candidates, ignore, corrected, offtopic)
        record.question_features = evidence.features
        record.crisp_missing = bool(evidence.crisp_missing)
        record.offtopic = evidence.offtopic


def _chosen(record: QuestionRecord, share: float, limit: int) -> list[int]:
    order = sorted(range(len(record.candidates)),
                   key=lambda i: (-record.candidates[i].probability, record.candidates[i].rank,
                                  record.candidates[i].position))
    if not order:
        return []
    floor = record.candidates[order[0]].probability * share
    return [i for i in order if record.candidates[i].probability >= floor][:limit]


def _best_share(records: Sequence[QuestionRecord], limit: int) -> float:
    """The share of ``SHARES`` whose chosen sentences hold the most of the answerable
    questions' reference facts, averaged over questions and then sets (facts in answer, the
    metric answers are judged by: a question with three facts wants the sentences of all
    three); within ``TIE`` of the best, the highest share (the shortest answers)."""
    by_set: dict[str, list[QuestionRecord]] = {}
    for record in records:
        if record.item.answerable:
            by_set.setdefault(record.set_name, []).append(record)

    def recall(share: float) -> float:
        return float(np.mean([np.mean([r.fact_share(_chosen(r, share, limit)) for r in rs])
                              for rs in by_set.values()]))

    scores = {share: recall(share) for share in SHARES}
    best = max(scores.values())
    return max(s for s, v in scores.items() if v >= best - TIE)


def _models(records: Sequence[QuestionRecord]) -> tuple[LinearModel, LinearModel]:
    """The sentence and answerability models fitted on ``records`` (which are left scored
    by the sentence model)."""
    rows = [(c.features, label, r.set_name) for r in records if r.item.answerable
            for c, label in zip(r.candidates, r.labels)]
    sentence = _standardised_fit(_matrix([f for f, _, _ in rows], SENTENCE_FEATURES),
                                 np.array([label for _, label, _ in rows]), SENTENCE_FEATURES,
                                 [g for _, _, g in rows])
    _score_sentences(records, sentence)
    answerable = _standardised_fit(
        _matrix([r.question_features for r in records], QUESTION_FEATURES),
        np.array([r.item.answerable for r in records]), QUESTION_FEATURES,
        [r.set_name for r in records])
    return sentence, answerable


def fit(records: Sequence[QuestionRecord], names: Sequence[str], limit: int,
        max_false_refusal: float = MAX_FALSE_REFUSAL,
        threshold_rule: str = THRESHOLD_RULE) -> AnswerModel:
    """The answer model fitted on ``records`` (every set named in ``names``).

    ``threshold_rule``: "in-sample" takes the highest threshold that keeps every set at
    ``max_false_refusal`` under the fitted model; "cross-validated" does so with each set's
    probabilities from a model fitted without it (out-of-fold), the way a corpus nobody
    fitted on meets the model (with fewer than three sets it falls back to in-sample)."""
    if threshold_rule not in THRESHOLD_RULES:
        raise ValueError(f"threshold_rule must be one of {THRESHOLD_RULES}, "
                         f"got {threshold_rule!r}")
    sets = list(dict.fromkeys(r.set_name for r in records))
    out_of_fold: dict[int, float] = {}
    if threshold_rule == "cross-validated" and len(sets) >= 3:
        for held in sets:
            _sentence, inner = _models([r for r in records if r.set_name != held])
            rest = [r for r in records if r.set_name == held]
            _score_sentences(rest, _sentence)
            out_of_fold.update({id(r): inner.probability(r.question_features) for r in rest})
    sentence, answerable = _models(records)
    threshold = _threshold(records, answerable, max_false_refusal,
                           out_of_fold if out_of_fold else None)
    share = _best_share(records, limit)
    return AnswerModel(sentence, answerable, float(threshold), float(share), tuple(names),
                       _offtopic_margin(records))


def _offtopic_margin(records: Sequence[QuestionRecord]) -> float | None:
    """The most any answerable training question came closer to an off-topic example than
    to its best passage: a question beyond it is refused (none without off-topic scores)."""
    margins = [r.offtopic for r in records if r.item.answerable]
    return max(margins) if margins and any(margins) else None


def _threshold(records: Sequence[QuestionRecord], model: LinearModel,
               max_false_refusal: float, probabilities: dict[int, float] | None = None
               ) -> float:
    """The highest refusal threshold that refuses at most ``max_false_refusal`` of the
    answerable questions of every training set, under ``model`` or with the given
    ``probabilities`` (by ``id`` of the record)."""
    by_set: dict[str, list[float]] = {}
    for r in records:
        if r.item.answerable and not r.crisp_missing:
            p = probabilities[id(r)] if probabilities is not None \
                else model.probability(r.question_features)
            by_set.setdefault(r.set_name, []).append(p)
    candidates = sorted({p for ps in by_set.values() for p in ps})
    best = 0.0
    for t in candidates:
        rate = max(float(np.mean([p < t for p in ps])) for ps in by_set.values())
        if rate <= max_false_refusal:
            best = t
    return best


def evaluate(records: Sequence[QuestionRecord], model: AnswerModel, limit: int
             ) -> dict[str, float]:
    """Simulated answers of ``model`` on ``records``: answers whose chosen sentences hold a
    fact ("facts"), the share of the reference facts they hold ("fact_recall", as the suite's
    facts in answer), false refusals, refusals of unanswerable and of out-of-domain
    questions."""
    _score_sentences(records, model.sentence)
    answerable = [r for r in records if r.item.answerable]
    unanswerable = [r for r in records if not r.item.answerable]
    ood = [r for r in unanswerable if r.item.out_of_domain]

    def refused(record: QuestionRecord) -> bool:
        return record.crisp_missing or not record.candidates or \
            model.answerable.probability(record.question_features) < model.threshold or \
            model.off_topic(record.offtopic)

    facts = sum(not refused(r) and any(r.labels[i] for i in _chosen(r, model.share, limit))
                for r in answerable)
    shares = [0.0 if refused(r) else r.fact_share(_chosen(r, model.share, limit))
              for r in answerable]
    return {"questions": len(records),
            "facts": facts / len(answerable) if answerable else 0.0,
            "fact_recall": float(np.mean(shares)) if shares else 0.0,
            "fact_reachable": sum(any(r.labels) for r in answerable) / max(1, len(answerable)),
            "false_refusal": sum(map(refused, answerable)) / max(1, len(answerable)),
            "refusal_recall": sum(map(refused, unanswerable)) / max(1, len(unanswerable)),
            "ood_refused": sum(map(refused, ood)) / len(ood) if ood else float("nan")}


def run_fit(suite: Suite, cache: IndexCache, base: Settings, out: TextIO,
            progress: Callable[[str], None], write: bool = True,
            model_path: Path | None = None,
            threshold_rule: str = THRESHOLD_RULE,
            max_false_refusal: float = MAX_FALSE_REFUSAL) -> dict[str, Any]:
    if not 0 <= max_false_refusal < 1:
        raise ValueError(f"max_false_refusal must be in [0, 1), got {max_false_refusal!r}")
    records = {s.name: collect(s, cache, base, progress) for s in suite.sets}
    limit = base.max_sentences
    report: dict[str, Any] = {"leave_one_out": {}, "in_sample": {}}
    for fold in suite.folds():
        training = [r for s in fold.training for r in records[s.name]]
        model = fit(training, [s.name for s in fold.training], limit, max_false_refusal,
                    threshold_rule=threshold_rule)
        report["leave_one_out"][fold.held_out.name] = {
            **evaluate(records[fold.held_out.name], model, limit),
            "threshold": model.threshold, "share": model.share,
            "offtopic_margin": model.offtopic_margin}
    everything = [r for rs in records.values() for r in rs]
    final = fit(everything, suite.names, limit, max_false_refusal,
                threshold_rule=threshold_rule)
    for name, rs in records.items():
        report["in_sample"][name] = evaluate(rs, final, limit)
    report["model"] = {"threshold": final.threshold, "share": final.share,
                       "sentence": dict(zip(final.sentence.names, final.sentence.weights)),
                       "answerable": dict(zip(final.answerable.names,
                                              final.answerable.weights))}
    if write:
        model_path = model_path or DATA_DIR / model_file(base.embedder)
        final.save(model_path, header=_HEADER)
        report["written"] = str(model_path)
    print(_table(report), file=out)
    return report


_HEADER = """\
# The fitted answer model: written by `python -m evals fit` (evals/fit.py), do not edit by
# hand. Logistic weights over standardised features (assistant/answer_features.py);
# threshold: refuse under this answerability probability (at most 5% false refusals on the
# sets named in fitted_on); share: sentences under this share of the best one are left out.
"""


def _table(report: dict[str, Any]) -> str:
    keys = ("facts", "fact_recall", "fact_reachable", "false_refusal", "refusal_recall",
            "ood_refused")
    lines = ["| set | " + " | ".join(keys) + " | threshold | share | off-topic margin |",
             "|---|" + "---|" * (len(keys) + 3)]
    for name, row in report["leave_one_out"].items():
        cells = " | ".join(f"{row[k]:.3f}" for k in keys)
        margin = row.get("offtopic_margin")
        lines.append(f"| {name} (held out) | {cells} | {row['threshold']:.3f} | "
                     f"{row['share']:.2f} | {'-' if margin is None else f'{margin:.3f}'} |")
    for name, row in report["in_sample"].items():
        cells = " | ".join(f"{row[k]:.3f}" for k in keys)
        lines.append(f"| {name} (all sets) | {cells} | | | |")
    return "\n".join(lines)


def main(args: Any, out: TextIO, err: TextIO) -> int:
    suite = Suite.load(args.suite) if getattr(args, "suite", None) else Suite.load()
    if getattr(args, "sets", None):
        suite = suite.select(args.sets)
    base = Settings.load(args.base_settings, env={}) if args.base_settings else Settings()
    progress = (lambda m: None) if args.quiet else \
        (lambda m: print(f"[fit] {m}", file=err, flush=True))
    report = run_fit(suite, IndexCache(args.cache or DEFAULT_CACHE), base, out, progress,
                     write=not args.dry_run,
                     threshold_rule=getattr(args, "threshold_rule", None) or THRESHOLD_RULE,
                     max_false_refusal=MAX_FALSE_REFUSAL
                     if getattr(args, "max_false_refusal", None) is None
                     else args.max_false_refusal)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=float), file=out)
    return 0


__all__ = ["QuestionRecord", "collect", "evaluate", "fit", "run_fit"]
