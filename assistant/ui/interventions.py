"""Interventions read from one indexed passage, each with its own funding and target groups.

A passage (chunk) holds one or more interventions:

* a **table row** ("Servizio sociale professionale | LEPS: ... | Fondo povertà, FNPS") is a
  passage with a *funding cell*, a paragraph made only of funding names: the row is one
  intervention, named by its heading, funded by what the cell names;
* otherwise every paragraph or list item is one intervention ("il consolidamento
  dell'Assistenza domiciliare integrata (Adi);").

Funding comes from the intervention's own text, else its row's funding cell, else its
heading, else the document's title (an avviso or a PNRR sheet names its programme there);
never from the other items of the passage. Target groups come from the intervention's own
text (with funding names blanked: "Fondo povertà" is not a target), else its heading.
Dates, page furniture and list introductions ("Sono quindi previste:") are not
interventions. Vocabularies are data: ``assistant/data/interventions_it.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..datafiles import load_yaml
from ..ingestion.cleaning import SECTION_PATH
from ..text import normalize, words

INTERVENTIONS_DATA = "interventions_it.yaml"
_PARAGRAPHS = re.compile(r"\n\s*\n|\n(?=[§•\-–*]\s)")
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def interventions_data() -> dict[str, Any]:
    """The parsed ``interventions_it.yaml`` (read once per process)."""
    data: dict[str, Any] = load_yaml(INTERVENTIONS_DATA)
    return data


class Vocabulary:
    """Labels found in a text through case-insensitive regular expressions."""

    def __init__(self, patterns: Mapping[str, Sequence[str]],
                 negations: Sequence[str] = ()) -> None:
        """``negations``: expressions that, up to two words before a match, cancel it
        ("senza" in "minori senza genitori" cancels "genitori")."""
        if not patterns:
            raise ValueError("patterns must map at least one label to expressions")
        try:
            self.negation = re.compile(
                r"\b(?:" + "|".join(negations) + r")\b(?:\s+[^\W\d_]+){0,2}\s*$",
                re.IGNORECASE) if negations else None
        except re.error as exc:
            raise ValueError(f"negations has a bad expression: {exc}") from exc
        self.rules: list[tuple[str, list[re.Pattern[str]]]] = []
        for label, exprs in patterns.items():
            if isinstance(exprs, str) or not exprs:
                raise ValueError(f"label {label!r} needs a list of expressions, got {exprs!r}")
            try:
                self.rules.append((str(label), [re.compile(p, re.IGNORECASE) for p in exprs]))
            except re.error as exc:
                raise ValueError(f"label {label!r} has a bad expression: {exc}") from exc

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.rules]

    def canonical(self, label: str | None) -> str | None:
        """The vocabulary's own spelling of ``label`` (case and accents ignored), or None."""
        wanted = normalize(label or "").strip()
        return next((known for known in self.labels if normalize(known) == wanted), None)

    def labels_in(self, text: str) -> list[str]:
        """Labels the text names, in the order it first names them."""
        text = text or ""
        first: list[tuple[int, int, str]] = []
        for order, (label, exprs) in enumerate(self.rules):
            starts = [start for e in exprs for start in [self._first(e, text)]
                      if start is not None]
            if starts:
                first.append((min(starts), order, label))
        return [label for _, _, label in sorted(first)]

    def _first(self, expr: re.Pattern[str], text: str) -> int | None:
        """Where ``expr`` first matches, not counting matches a negation cancels."""
        for match in expr.finditer(text):
            if self.negation is None:
                return match.start()
            before = re.split(r"[,;.:()]", text[max(0, match.start() - 40):match.start()])[-1]
            if not self.negation.search(before):
                return match.start()
        return None

    def find(self, *texts_: str) -> list[str]:
        """Labels found in the first text that has any (the line, then its context)."""
        for text in texts_:
            found = self.labels_in(text)
            if found:
                return found
        return []

    def blank(self, text: str) -> str:
        """``text`` with every match replaced by spaces (offsets kept)."""
        for _, exprs in self.rules:
            for expr in exprs:
                text = expr.sub(lambda m: " " * len(m.group(0)), text)
        return text


@dataclass(frozen=True)
class Intervention:
    """One intervention of a passage."""

    text: str                     # its whole text; a table row starts with its heading
    heading: str                  # the innermost heading above it ("" when none)
    funding: tuple[str, ...]
    targets: tuple[str, ...]
    table_row: bool = False


class InterventionReader:
    """Splits passages into interventions and finds each one's funding and targets."""

    def __init__(self, funding: Mapping[str, Sequence[str]] | None = None,
                 targets: Mapping[str, Sequence[str]] | None = None,
                 not_interventions: Sequence[str] | None = None,
                 staff_targets: Sequence[str] | None = None,
                 cell_fillers: Sequence[str] | None = None, min_words: int | None = None) -> None:
        data = interventions_data()
        self.funding = Vocabulary(funding if funding is not None else data["funding"])
        self.targets = Vocabulary(targets if targets is not None else data["targets"],
                                  data.get("target_negations") or ())
        skip = not_interventions if not_interventions is not None else data["not_interventions"]
        self.skip = [re.compile(p, re.IGNORECASE) for p in skip]
        staff = staff_targets if staff_targets is not None else data.get("staff_targets", [])
        unknown = [s for s in staff if s not in self.targets.labels]
        if unknown:
            raise ValueError(f"staff_targets must be target labels, got {unknown!r}")
        self.staff_targets = tuple(staff)
        fillers = cell_fillers if cell_fillers is not None else data["funding_cell_fillers"]
        self.cell_fillers = {normalize(w) for w in fillers}
        self.min_words = int(min_words if min_words is not None else data.get("min_words", 3))
        if self.min_words < 1:
            raise ValueError(f"min_words must be >= 1, got {self.min_words!r}")

    # ---- kinds of paragraph --------------------------------------------------------------
    def is_funding_cell(self, paragraph: str) -> bool:
        """A paragraph naming funding sources and nothing else ("FNPS, FNA")."""
        if len(paragraph) > 300 or not self.funding.labels_in(paragraph):
            return False
        rest = [w for w in words(self.funding.blank(paragraph))
                if _LETTERS.fullmatch(w) and w not in self.cell_fillers]
        return len(rest) <= 1

    def is_intervention(self, paragraph: str) -> bool:
        """False for dates, page furniture, list introductions and fragments."""
        if any(p.search(paragraph) for p in self.skip):
            return False
        if paragraph.rstrip().endswith(":"):
            return False
        return len(_LETTERS.findall(paragraph)) >= self.min_words

    # ---- one passage ---------------------------------------------------------------------
    def read(self, text: str, section: str | None = None,
             title: str = "") -> list[Intervention]:
        """The interventions of a passage with its section path and document title."""
        heading = innermost_heading(section)
        paragraphs = [" ".join(p.split()).strip() for p in _PARAGRAPHS.split(text or "")]
        paragraphs = [p for p in paragraphs if p]
        cells = [p for p in paragraphs if self.is_funding_cell(p)]
        body = [p for p in paragraphs if p not in cells and self.is_intervention(p)]
        if cells and body and heading:
            return [self._row(heading, body, cells, title)]
        return [self._item(p, heading, title) for p in body]

    def _row(self, heading: str, body: list[str], cells: list[str], title: str) -> Intervention:
        detail = " ".join(_clean(p) for p in body)
        text = detail if normalize(detail).startswith(normalize(heading)) \
            else f"{heading}: {detail}"
        funding = _unique(label for cell in cells for label in self.funding.labels_in(cell))
        return Intervention(text, heading, tuple(funding or self._funding(text, heading, title)),
                            self._targets(text, heading), table_row=True)

    def _item(self, paragraph: str, heading: str, title: str) -> Intervention:
        text = _clean(paragraph)
        return Intervention(text, heading, tuple(self._funding(text, heading, title)),
                            self._targets(text, heading))

    def _funding(self, text: str, heading: str, title: str) -> list[str]:
        return self.funding.find(text, heading, title)

    def _targets(self, text: str, heading: str) -> tuple[str, ...]:
        found = self.targets.find(self.funding.blank(text), self.funding.blank(heading))
        staff = [t for t in found if t in self.staff_targets]
        return tuple(staff or found)


def innermost_heading(section: str | None) -> str:
    """The last heading of a section path ("Lista › ... › Dimissioni protette")."""
    return (section or "").split(SECTION_PATH)[-1].strip()


def _clean(paragraph: str) -> str:
    """A paragraph without its list bullet and the ";" or "," that ends a list item."""
    return paragraph.lstrip(" §•-–*").rstrip(" ;,")


def _unique(labels: Any) -> list[str]:
    return list(dict.fromkeys(labels))
