"""Reference questions: one JSON object a line.

Fields: ``id``, ``question``, ``kind`` (fact, descriptive, acronym, colloquial,
multi_document, follow_up, unanswerable, ...), ``gold`` (``[{source, section}]``, the
documents that answer it, paths relative to the corpus folder), ``facts`` (strings that a
correct answer contains), ``reference_answer``, optional ``history``
(``[{question, answer}]``, earlier turns of a follow-up) and optional ``filters``
(``{ambito, comune, doc_type, year, source}``, as a user would set them in the UI).

Kinds that no document answers: ``unanswerable`` (on the corpus' topics, but not in it) and
``out_of_domain`` (recipes, sport, geography, public services the corpus does not cover).

A second schema is read too, that of externally written sets such as
``evals/qa/piano-triennale/qa.jsonl``: ``{id, question, doc, page, facts, answerable, kind}``.
``doc`` (a file name) becomes the gold source (with ``page``), ``answerable: false`` the kind
``unanswerable`` (those rows carry no kind), and the file is never rewritten.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError, ConfigError

from .textmatch import contains

UNANSWERABLE = "unanswerable"
OUT_OF_DOMAIN = "out_of_domain"
UNANSWERABLE_KINDS = (UNANSWERABLE, OUT_OF_DOMAIN)
FOLLOW_UP = "follow_up"
MINIMUMS = {"questions": 120, UNANSWERABLE: 20, FOLLOW_UP: 10}
FILTER_KEYS = ("ambito", "comune", "doc_type", "year", "source")


@dataclass(frozen=True)
class Gold:
    source: str
    section: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    kind: str
    gold: tuple[Gold, ...] = ()
    facts: tuple[str, ...] = ()
    reference_answer: str = ""
    history: tuple[tuple[str, str], ...] = ()
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return self.kind not in UNANSWERABLE_KINDS

    @property
    def out_of_domain(self) -> bool:
        return self.kind == OUT_OF_DOMAIN

    @property
    def gold_sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.source for g in self.gold))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> "QAItem":
        def bad(message: str) -> ConfigError:
            return ConfigError(f"{where}{message}", setting="qa")

        if not isinstance(data, dict):
            raise bad("expected a JSON object")
        if "answerable" in data and "gold" not in data:
            data = from_external_schema(data, where)
        for key in ("id", "question", "kind"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise bad(f"field {key!r} must be a non-empty string, got {data.get(key)!r}")
        gold = []
        for entry in data.get("gold") or []:
            if isinstance(entry, str):
                entry = {"source": entry}
            if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
                raise bad(f"gold entries need a 'source' string, got {entry!r}")
            page = entry.get("page")
            if page is not None and (not isinstance(page, int) or isinstance(page, bool)):
                raise bad(f"gold 'page' must be a whole number, got {page!r}")
            gold.append(Gold(entry["source"], entry.get("section"), page))
        facts = data.get("facts") or []
        if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip()
                                                  for f in facts):
            raise bad(f"field 'facts' must be a list of non-empty strings, got {facts!r}")
        history = []
        for turn in data.get("history") or []:
            if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
                raise bad(f"history turns need a 'question' string, got {turn!r}")
            history.append((turn["question"], str(turn.get("answer") or "")))
        filters = data.get("filters") or {}
        if not isinstance(filters, dict) or set(filters) - set(FILTER_KEYS):
            raise bad(f"field 'filters' accepts only {', '.join(FILTER_KEYS)}, got {filters!r}")
        kind = data["kind"].strip()
        if kind not in UNANSWERABLE_KINDS and not (gold and facts):
            raise bad(f"an answerable question ({kind}) needs 'gold' and 'facts'")
        return cls(data["id"].strip(), data["question"], kind, tuple(gold), tuple(facts),
                   str(data.get("reference_answer") or ""), tuple(history), dict(filters))


def from_external_schema(data: dict[str, Any], where: str = "") -> dict[str, Any]:
    """A row of the ``{id, question, doc, page, facts, answerable, kind}`` schema as a row of
    ours: ``doc`` and ``page`` become the gold entry, ``answerable: false`` the kind
    ``unanswerable`` (a kind it names itself, such as ``out_of_domain``, is kept)."""
    answerable = data.get("answerable")
    if not isinstance(answerable, bool):
        raise ConfigError(f"{where}field 'answerable' must be true or false, got "
                          f"{answerable!r}", setting="qa")
    kind = data.get("kind")
    if not answerable:
        kind = kind if kind in UNANSWERABLE_KINDS else UNANSWERABLE
    doc = data.get("doc")
    gold = [{"source": doc, "page": data.get("page")}] if answerable and doc else []
    return {"id": data.get("id"), "question": data.get("question"), "kind": kind,
            "gold": gold, "facts": data.get("facts") or [],
            "reference_answer": data.get("reference_answer") or "",
            "history": data.get("history") or [], "filters": data.get("filters") or {}}


def load_qa(path: str | Path) -> list[QAItem]:
    """Parse a JSONL file of reference questions; errors name the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"QA file not found: {path}", setting="qa")
    items: list[QAItem] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path.name}:{number}: "
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}invalid JSON ({exc.msg})", setting="qa") from exc
        item = QAItem.from_dict(data, where)
        if item.id in seen:
            raise ConfigError(f"{where}duplicate id {item.id!r}", setting="qa")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise ConfigError(f"QA file has no questions: {path}", setting="qa")
    return items


def counts(items: list[QAItem]) -> dict[str, int]:
    """Questions in all and by kind."""
    by_kind = Counter(item.kind for item in items)
    return {"questions": len(items), **dict(sorted(by_kind.items()))}


def document_text(corpus_dir: Path, source: str) -> str:
    """The text a reader extracts from one corpus file (HTML without tags, PDF pages)."""
    from assistant.ingestion.readers import read_pages

    path = Path(corpus_dir) / source
    return "\n".join(page.text for page in read_pages(path))


def check_dataset(items: list[QAItem], corpus_dir: str | Path,
                  minimums: dict[str, int] | None = None) -> list[str]:
    """Problems with a reference set: gold documents missing from the corpus, facts not in
    their gold documents (case-insensitive), counts below the minimums. Empty when fine."""
    corpus_dir = Path(corpus_dir)
    problems: list[str] = []
    texts: dict[str, str | None] = {}
    for item in items:
        for source in item.gold_sources:
            if source not in texts:
                try:
                    texts[source] = document_text(corpus_dir, source)
                except (OSError, AssistantError) as exc:
                    texts[source] = None
                    problems.append(f"{item.id}: gold document {source!r} unreadable ({exc})")
        gold_text = "\n".join(texts[s] or "" for s in item.gold_sources)
        for fact in item.facts:
            if not contains(gold_text, fact):
                problems.append(f"{item.id}: fact {fact!r} not found in "
                                f"{', '.join(item.gold_sources)}")
    have = counts(items)
    for key, minimum in (MINIMUMS if minimums is None else minimums).items():
        if have.get(key, 0) < minimum:
            problems.append(f"only {have.get(key, 0)} {key} (minimum {minimum})")
    return problems
