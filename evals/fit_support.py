"""Fit the support threshold of the LLM answer check (``assistant/llm/check.py``).

A sentence of an LLM reply is kept only when at least a share ``threshold`` of its content
words is found in the passages it cites. The share is fitted here, not set by hand, on:

- **extractive gold**: for each answerable question of ``evals/qa/demo.jsonl``, the sentences
  of the extractive answer with the passage they cite (trivially supported: positives) and
  the reference answer with the passages holding its facts (a human paraphrase: positives);
  each of them paired with a wrong passage (another document's, or another retrieved
  passage of the same document that does not hold it: negatives, like a swapped marker);
- **fake-server cases**: the hand-labelled replies of ``evals/qa/grounding_cases.yaml``
  (attacks and faithful paraphrases), scored against the passages of their prompt.

The threshold maximises balanced accuracy (the mean of the kept share of positives and the
dropped share of negatives, each class averaging its groups), and is the middle of the best
interval. Run::

    python -m evals.fit_support            # print the fit
    python -m evals.fit_support --write    # and write assistant/data/grounding_fit.yaml

It indexes the demo corpus (plus the cases' extra documents) in a temporary folder with the
hashing embedder; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEMO_QA = ROOT / "evals" / "qa" / "demo.jsonl"
CASES = ROOT / "evals" / "qa" / "grounding_cases.yaml"
CORPUS = ROOT / "corpus"
OUTPUT = ROOT / "assistant" / "data" / "grounding_fit.yaml"
_PLACEHOLDER = re.compile(r"\[\[([^\[\]]{1,80})\]\]")


@dataclass(frozen=True)
class Example:
    group: str      # where it comes from: extractive, reference, case, wrong_document, ...
    positive: bool  # the cited passages support the sentence
    score: float    # the share of its content words they hold
    text: str = ""


# ---- cases ---------------------------------------------------------------------------------
def load_cases(path: Path = CASES) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for case in data["cases"]:
        missing = [k for k in ("id", "question", "reply", "supported", "outcome") if k not in case]
        if missing:
            raise ValueError(f"case {case.get('id')!r} of {path} lacks {', '.join(missing)}")
    return data


def resolve_markers(reply: str, passages: Sequence[str]) -> str:
    """``[[words]]`` becomes ``[n]``, n being the first passage holding those words."""
    from .textmatch import contains

    def number(match: re.Match[str]) -> str:
        words = match.group(1)
        for n, passage in enumerate(passages, start=1):
            if contains(passage, words):
                return f"[{n}]"
        raise LookupError(f"no passage of the prompt holds {words!r}: retrieval changed, "
                          f"update evals/qa/grounding_cases.yaml")

    return _PLACEHOLDER.sub(number, reply)


def prompt_passages(bot: Any, question: str) -> tuple[list[Any], list[str]]:
    """The hits the assistant retrieves for ``question`` and the passages of its prompt."""
    from assistant.llm.prompt import PromptBuilder

    answer = bot.ask(question)
    hits = list(answer.hits)
    if not hits:
        return [], []
    return hits, list(PromptBuilder().build(question, hits).passages)


# ---- the examples --------------------------------------------------------------------------
def build_assistant(folder: Path, extra_documents: dict[str, str]) -> Any:
    from assistant import Assistant, HashingEmbedder, Settings

    corpus = folder / "corpus"
    shutil.copytree(CORPUS, corpus)
    for name, text in (extra_documents or {}).items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index", embedder="hashing")
    bot = Assistant(settings, embedder=HashingEmbedder())
    bot.ingest()
    return bot


def case_examples(bot: Any, cases: Iterable[dict[str, Any]], model: Any) -> list[Example]:
    from assistant.llm.check import AnswerChecker, split_claims

    out: list[Example] = []
    for case in cases:
        _, passages = prompt_passages(bot, case["question"])
        checker = AnswerChecker(passages, support=model)
        claims = split_claims(resolve_markers(case["reply"], passages))
        if len(claims) != len(case["supported"]):
            raise ValueError(f"case {case['id']}: {len(claims)} claims, "
                             f"{len(case['supported'])} labels")
        for claim, supported in zip(claims, case["supported"]):
            if claim.markers and all(1 <= n <= len(passages) for n in claim.markers):
                out.append(Example("case", bool(supported), checker.support(claim), claim.text))
    return out


def _passage(citation: Any) -> str:
    return "\n".join(filter(None, (citation.title, citation.section, citation.text)))


def gold_examples(bot: Any, items: Iterable[Any], model: Any) -> list[Example]:
    """Extractive answer sentences and reference answers, with their passages and with
    wrong ones."""
    from assistant.llm.check import split_claims

    from .textmatch import contains

    seen: list[tuple[str, str]] = []  # (source, passage) over all questions, in order
    pending: list[tuple[str, str, str, set[str]]] = []  # (group, text, source, own passages)
    out: list[Example] = []
    for item in items:
        if not item.answerable:
            continue
        answer = bot.ask(item.question)
        if answer.refused:
            continue
        cited = {c.id: c for c in answer.citations}
        for claim in split_claims(answer.answer):
            own = [cited[n] for n in claim.markers if n in cited]
            if not own:
                continue
            texts = [_passage(c) for c in own]
            out.append(Example("extractive", True, _score(model, claim.text, texts), claim.text))
            pending.append(("extractive", claim.text, own[0].source, set(texts)))
            _same_document_negatives(out, model, claim.text, own, answer.hits, contains)
        holding = [h for h in answer.hits
                   if any(contains(_hit_passage(h), f) for f in item.facts)]
        if item.reference_answer and holding and all(
                any(contains(_hit_passage(h), f) for h in holding) for f in item.facts):
            texts = [_hit_passage(h) for h in holding]
            out.append(Example("reference", True, _score(model, item.reference_answer, texts),
                               item.reference_answer))
            pending.append(("reference", item.reference_answer, holding[0].chunk.source,
                            set(texts)))
        for citation in answer.citations:
            seen.append((citation.source, _passage(citation)))
    # every sentence against two passages of other documents
    for index, (group, text, source, own) in enumerate(pending):
        others = [p for s, p in seen if s != source and p not in own]
        for step in (7, 31):
            if others:
                wrong = others[(index * step) % len(others)]
                out.append(Example("wrong_document", False, _score(model, text, [wrong]), text))
    return out


def _hit_passage(hit: Any) -> str:
    chunk = hit.chunk
    return "\n".join(filter(None, (chunk.title, chunk.section, chunk.text)))


def _same_document_negatives(out: list[Example], model: Any, text: str, own: list[Any],
                             hits: Sequence[Any], contains: Any) -> None:
    """The sentence against another retrieved passage of the same document that does not
    hold it (a swapped marker)."""
    core = text.split(": ", 1)[-1][:80]  # without the heading label of a list answer
    own_ids = {c.chunk_id for c in own}
    for hit in hits:
        if hit.chunk.id in own_ids or hit.chunk.source != own[0].source:
            continue
        passage = _hit_passage(hit)
        if not contains(passage, core) and not contains(passage, text[:80]):
            out.append(Example("swapped_passage", False, _score(model, text, [passage]), text))
            return


def _score(model: Any, text: str, passages: Sequence[str]) -> float:
    from assistant.llm.check import _LIST_ENUMERATOR

    vocabularies = [model.vocabulary(model.citable(p)) for p in passages]
    return model.support(_LIST_ENUMERATOR.sub("", text), vocabularies)


# ---- the fit -------------------------------------------------------------------------------
def rates(examples: Sequence[Example], threshold: float) -> dict[str, float]:
    """Per group, the share classified right at ``threshold`` (kept when positive)."""
    groups: dict[str, list[bool]] = {}
    for ex in examples:
        groups.setdefault(ex.group + ("+" if ex.positive else "-"), []).append(
            (ex.score >= threshold) == ex.positive)
    return {g: sum(v) / len(v) for g, v in sorted(groups.items())}


def balanced_accuracy(examples: Sequence[Example], threshold: float) -> float:
    per_group = rates(examples, threshold)
    positive = [r for g, r in per_group.items() if g.endswith("+")]
    negative = [r for g, r in per_group.items() if g.endswith("-")]
    if not positive or not negative:
        raise ValueError("the fit needs positive and negative examples")
    return (sum(positive) / len(positive) + sum(negative) / len(negative)) / 2


def fit_threshold(examples: Sequence[Example]) -> tuple[float, float]:
    """(threshold, balanced accuracy): the middle of the best run of candidate thresholds
    (midpoints between distinct scores)."""
    scores = sorted({round(ex.score, 6) for ex in examples})
    candidates = [0.0] + [(a + b) / 2 for a, b in zip(scores, scores[1:])] + [1.0]
    values = [balanced_accuracy(examples, t) for t in candidates]
    best = max(values)
    runs: list[list[int]] = []
    for i, value in enumerate(values):
        if value == best:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    widest = max(runs, key=lambda r: candidates[r[-1]] - candidates[r[0]])
    low, high = candidates[widest[0]], candidates[widest[-1]]
    return round((low + high) / 2, 3), best


def collect(folder: Path) -> list[Example]:
    """Every example, scored (the demo corpus indexed in ``folder``)."""
    from assistant.llm.check import SupportModel

    from .dataset import load_qa

    data = load_cases()
    bot = build_assistant(folder, data.get("extra_documents") or {})
    model = SupportModel.from_data(threshold=0.0)
    examples = gold_examples(bot, load_qa(DEMO_QA), model)
    return examples + case_examples(bot, data["cases"], model)


def run(folder: Path) -> dict[str, Any]:
    """The fit and its figures, as written to the data file."""
    examples = collect(folder)
    threshold, accuracy = fit_threshold(examples)
    counts: dict[str, int] = {}
    for ex in examples:
        key = ex.group + (" +" if ex.positive else " -")
        counts[key] = counts.get(key, 0) + 1
    return {"threshold": threshold, "balanced_accuracy": round(accuracy, 4),
            "examples": dict(sorted(counts.items())),
            "right_share_per_group": {g: round(r, 4)
                                      for g, r in rates(examples, threshold).items()},
            "misclassified_cases": [ex.text for ex in examples if ex.group == "case"
                                    and (ex.score >= threshold) != ex.positive]}


def write(result: dict[str, Any], path: Path = OUTPUT) -> None:
    header = ("# Fitted by `python -m evals.fit_support --write` (do not edit by hand): the\n"
              "# share of a claim's content words its cited passages must hold\n"
              "# (assistant/llm/check.py), fitted on the extractive gold of\n"
              "# evals/qa/demo.jsonl and the fake-server cases of "
              "evals/qa/grounding_cases.yaml.\n")
    body = yaml.safe_dump(result, allow_unicode=True, sort_keys=False, width=100)
    path.write_text(header + body, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.fit_support",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true",
                        help=f"write the fitted threshold to {OUTPUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    from assistant.env import configure_offline_environment

    configure_offline_environment()
    with tempfile.TemporaryDirectory(prefix="fit-support-") as tmp:
        result = run(Path(tmp))
    print(yaml.safe_dump(result, allow_unicode=True, sort_keys=False, width=100))
    if args.write:
        write(result)
        print(f"written to {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
