"""'Domande senza risposta': what citizens asked that was refused or rated 👎, by topic.

:class:`UnansweredReport` reads the rows of a :class:`~assistant.ui.feedback.FeedbackStore`
(or any rows with the same keys), keeps the refused or 👎 ones, gives each a topic and
counts them per topic and ISO week, for the Ufficio di Piano to see which information
citizens look for and the documents lack. Both tables export as Italian CSV::

    python -m assistant.ui.unanswered --db feedback.sqlite3 [--questions] [--out file.csv]

A question's topic is the first target group it names (``interventions_it.yaml``), its own
words or the words the everyday and glossary expansions add to it ("non cammina più" ->
non autosufficienti); else the glossary acronym it names (ISEE); else the content word it
shares with most other such questions (simple clustering); else "altro".
Every text is masked again (:func:`assistant.privacy.mask_personal_data`) before output,
though the store masks what it writes.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

from ..datafiles import load_yaml
from ..expansion import QueryExpander
from ..privacy import mask_personal_data
from ..text import terms, words
from .interventions import InterventionReader, Vocabulary
from .services import spreadsheet_safe

UNANSWERED_DATA = "unanswered_it.yaml"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class UnansweredQuestion:
    question: str          # masked
    created_at: datetime | None
    week: str              # ISO week, "2026-W48" ("" when the date is unknown)
    reason: str            # Italian: "senza risposta", "valutata negativamente", ...
    topic: str
    comment: str = ""      # masked


@dataclass
class TopicGroup:
    topic: str
    count: int = 0
    weeks: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


def iso_week(when: datetime | None) -> str:
    if when is None:
        return ""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _parse_date(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def refusal_openings() -> list[str]:
    """The fixed opening of every refusal message of ``strings_it.yaml`` ("Non ho trovato
    informazioni su"), to recognise a stored refusal answer."""
    strings = load_yaml("strings_it.yaml")
    openings = []
    for key, template in strings.items():
        if key.startswith("refusal") and key != "refusal_hint" and isinstance(template, str):
            opening = template.split("{", 1)[0].strip(" «")
            if len(opening) >= 12:
                openings.append(opening)
    return openings


class TopicFinder:
    """The topic of a citizen's question, from the data files' vocabularies."""

    def __init__(self, targets: Vocabulary | None = None,
                 expander: QueryExpander | None = None, other: str | None = None) -> None:
        data = load_yaml(UNANSWERED_DATA)
        self.targets = targets or InterventionReader().targets
        self.expander = expander or QueryExpander()
        self.other = other or str(data["other_topic"])

    def topic(self, question: str) -> str | None:
        """A target group or glossary acronym for the question, or None."""
        expansions = self.expander.expand(question)
        added = " ; ".join(p for e in expansions for p in e.added)
        found = self.targets.labels_in(f"{question} ; {added}")
        if found:
            return found[0]
        acronyms = [e.term for e in expansions if e.is_acronym]
        return acronyms[0] if acronyms else None


class UnansweredReport:
    """Refused or 👎 questions of the feedback rows, grouped by topic and week."""

    def __init__(self, rows: Callable[[], Iterable[Mapping[str, Any]]] | Any,
                 topics: TopicFinder | None = None,
                 mask: Callable[[str], str] = mask_personal_data,
                 min_cluster: int | None = None) -> None:
        """``rows``: a FeedbackStore (its ``rows()`` is read) or a function giving rows."""
        source = getattr(rows, "rows", rows)
        if not callable(source):
            raise ValueError(f"rows must be a FeedbackStore or a function, got {rows!r:.80}")
        if not callable(mask):
            raise ValueError(f"mask must be a function from text to text, got {mask!r:.80}")
        data = load_yaml(UNANSWERED_DATA)
        self.source = source
        self.topics = topics or TopicFinder()
        self.mask = mask
        self.min_cluster = int(min_cluster if min_cluster is not None else data["min_cluster"])
        if self.min_cluster < 2:
            raise ValueError(f"min_cluster must be >= 2, got {self.min_cluster!r}")
        self.ignore = {stem for w in data.get("ignore_words") or [] for stem in terms(str(w))}
        self.reasons: dict[str, str] = dict(data["reasons"])
        self.csv_columns = dict(data["csv"])
        self.openings = refusal_openings()

    # ---- which rows ----------------------------------------------------------------------
    def refused(self, row: Mapping[str, Any]) -> bool:
        """The answer was a refusal: the row says so, or it cites nothing, or it opens as a
        refusal message does."""
        if "refused" in row and row["refused"] is not None:
            return bool(row["refused"])
        citations = row.get("citations")
        if isinstance(citations, str):
            try:
                citations = json.loads(citations or "[]")
            except ValueError:
                citations = None
        if citations == []:
            return True
        answer = str(row.get("answer") or "").lstrip()
        return any(answer.startswith(o) for o in self.openings)

    def _reason(self, row: Mapping[str, Any]) -> str | None:
        refused, down = self.refused(row), row.get("rating") == "down"
        if refused and down:
            return self.reasons["both"]
        if refused or down:
            return self.reasons["refused" if refused else "down"]
        return None

    # ---- the report ----------------------------------------------------------------------
    def questions(self) -> list[UnansweredQuestion]:
        """Every refused or 👎 question, masked, with its week and topic."""
        kept: list[tuple[Mapping[str, Any], str, str]] = []
        for row in self.source():
            reason = self._reason(row)
            question = self.mask(str(row.get("question") or "")).strip()
            if reason and question:
                kept.append((row, reason, question))
        found = [self.topics.topic(q) for _, _, q in kept]
        topics = self._cluster([q for _, _, q in kept], found)
        out = []
        for (row, reason, question), topic in zip(kept, topics):
            when = _parse_date(row.get("created_at"))
            out.append(UnansweredQuestion(question, when, iso_week(when), reason, topic,
                                          self.mask(str(row.get("comment") or "")).strip()))
        return out

    def _cluster(self, questions: Sequence[str], topics: list[str | None]) -> list[str]:
        """Questions without a topic grouped by the content word most of them share (a
        word at least ``min_cluster`` of them use); the rest is "altro"."""
        loose = [i for i, t in enumerate(topics) if t is None]
        stems = {i: {s: w for s, w in _content_words(questions[i]).items()
                     if s not in self.ignore} for i in loose}
        counts = Counter(s for i in loose for s in stems[i])
        label: dict[str, str] = {}
        for i in loose:
            for stem_, word in stems[i].items():
                label.setdefault(stem_, word)
        result = list(topics)
        for i in loose:
            shared = [(counts[s], s) for s in stems[i] if counts[s] >= self.min_cluster]
            result[i] = label[max(shared)[1]] if shared else self.topics.other
        return [str(t) for t in result]

    def groups(self, questions: Sequence[UnansweredQuestion] | None = None) -> list[TopicGroup]:
        """Topics by number of questions (then name), each with counts per week."""
        groups: dict[str, TopicGroup] = {}
        for q in questions if questions is not None else self.questions():
            group = groups.setdefault(q.topic, TopicGroup(q.topic))
            group.count += 1
            group.weeks[q.week] = group.weeks.get(q.week, 0) + 1
            if len(group.examples) < MAX_EXAMPLES and q.question not in group.examples:
                group.examples.append(q.question)
        for group in groups.values():
            group.weeks = dict(sorted(group.weeks.items()))
        return sorted(groups.values(), key=lambda g: (-g.count, g.topic))

    # ---- CSV -----------------------------------------------------------------------------
    def topics_csv(self, groups: Sequence[TopicGroup] | None = None) -> str:
        """One line per topic and week: topic, week, number of questions, examples."""
        separator = self.csv_columns["examples_separator"]
        lines = [[g.topic, week, str(count), separator.join(g.examples)]
                 for g in (groups if groups is not None else self.groups())
                 for week, count in g.weeks.items()]
        return italian_csv(self.csv_columns["topics"], lines)

    def questions_csv(self, questions: Sequence[UnansweredQuestion] | None = None) -> str:
        """One line per question: date, week, topic, reason, question, comment."""
        lines = [[q.created_at.strftime("%d/%m/%Y %H:%M") if q.created_at else "", q.week,
                  q.topic, q.reason, q.question, q.comment]
                 for q in (questions if questions is not None else self.questions())]
        return italian_csv(self.csv_columns["questions"], lines)


_MASK_LABEL = re.compile(r"\[[^\]]{1,40}\]")


def _content_words(question: str) -> dict[str, str]:
    """The question's content words (masks such as "[TELEFONO]" left out): stem -> the
    first word written with it."""
    out: dict[str, str] = {}
    for word in words(_MASK_LABEL.sub(" ", question)):
        stems = terms(word)
        if stems and len(word) > 3 and not word.isdigit():
            out.setdefault(stems[0], word)
    return out


def italian_csv(columns: Sequence[str], lines: Iterable[Sequence[Any]]) -> str:
    """";"-separated CSV with a BOM, formula cells escaped (as the staff search's)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(c) for c in columns])
    for line in lines:
        writer.writerow([spreadsheet_safe(c) for c in line])
    return "\ufeff" + buffer.getvalue()


def report_html(report: UnansweredReport) -> str:
    """The topics as an HTML table (every text escaped) for the operators' tab."""
    strings = load_yaml(UNANSWERED_DATA)["html"]
    groups = report.groups()
    if not groups:
        return f'<div class="stato stato-info">{html.escape(strings["empty"])}</div>'
    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in strings["columns"])
    body = []
    for g in groups:
        weeks = ", ".join(strings["week"].format(week=w or "?", count=n)
                          for w, n in g.weeks.items())
        examples = "".join(f"<li>{html.escape(e)}</li>" for e in g.examples)
        body.append(f'<tr><th scope="row">{html.escape(g.topic)}</th><td>{g.count}</td>'
                    f"<td>{html.escape(weeks)}</td><td><ul>{examples}</ul></td></tr>")
    caption = strings["caption"].format(count=sum(g.count for g in groups))
    return (f'<table class="senza-risposta"><caption>{html.escape(caption)}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    from .feedback import DEFAULT_DB, FeedbackStore

    out, err = stdout or sys.stdout, stderr or sys.stderr
    texts = load_yaml(UNANSWERED_DATA)["cli"]
    parser = argparse.ArgumentParser(prog="python -m assistant.ui.unanswered",
                                     description=texts["description"])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=texts["db_help"])
    parser.add_argument("--out", type=Path, help=texts["out_help"])
    parser.add_argument("--questions", action="store_true", help=texts["questions_help"])
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(texts["missing"].format(db=args.db), file=err)
        return 1
    report = UnansweredReport(FeedbackStore(args.db))
    text = report.questions_csv() if args.questions else report.topics_csv()
    if args.out:
        args.out.write_text(text, encoding="utf-8", newline="")
        print(texts["done"].format(count=text.count("\r\n") - 1, out=args.out), file=err)
    else:
        out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
