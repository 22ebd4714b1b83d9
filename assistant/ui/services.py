"""Two ways to list interventions, both built on retrieval over the indexed documents and on
:class:`~assistant.ui.interventions.InterventionReader` (one intervention per list item or
table row, each with its own funding and target groups).

* :class:`ServiceFinder` ("Servizi per me"): for each situation a citizen picks, the
  interventions of the comune's ambito whose target groups or topics are the situation's
  (``interventions_it.yaml``), found among the passages retrieved for the situation's
  question (``ui_it.yaml``).
* :class:`InterventionSearch` (staff): keyword search, optionally restricted to a funding
  source and a target group, one row per intervention; :func:`rows_to_csv` exports them
  for Italian spreadsheets.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Mapping, Sequence

from .. import messages
from ..retrieval import Filters
from ..text import normalize, terms
from . import render, texts
from .interventions import (Intervention, InterventionReader, Vocabulary,  # noqa: F401
                            interventions_data)


MAX_COMUNE_CHARS = 120
MAX_SITUATION_ID_CHARS = 200
MAX_SITUATION_REQUESTS = 200
Progress = Callable[[int, int, str], None]


# ---- Servizi per me ----------------------------------------------------------------------
@dataclass(frozen=True)
class Situation:
    id: str
    label: str
    query: str
    targets: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def wants(self, item: Intervention) -> bool:
        """The intervention is for this situation: one of its target groups is the
        situation's, or its text names one of the situation's topics; not one aimed at a
        group the situation excludes."""
        if set(item.targets) & set(self.exclude):
            return False
        if set(item.targets) & set(self.targets):
            return True
        return any(re.search(t, item.text, re.IGNORECASE) for t in self.topics)


@dataclass(frozen=True)
class ServiceItem:
    text: str           # the intervention, on one line
    area: str           # the heading it comes under, if any
    source_label: str   # "Title, pag. 3"
    url: str


@dataclass
class SituationResult:
    id: str
    label: str
    items: list[ServiceItem] = field(default_factory=list)


def load_situations(rules: Mapping[str, Any] | None = None) -> list[Situation]:
    """The situations of ``ui_it.yaml`` with their rules from ``interventions_it.yaml``."""
    rules = rules if rules is not None else interventions_data().get("situations", {})
    out = []
    for raw in texts.section("situazioni"):
        rule = rules.get(str(raw["id"])) or {}
        out.append(Situation(str(raw["id"]), str(raw["label"]), str(raw["query"]),
                             tuple(rule.get("targets") or ()), tuple(rule.get("topics") or ()),
                             tuple(rule.get("exclude") or ())))
    return out


def source_label(title: str, page: int | None) -> str:
    where = texts.text("answer.source_page", page=page) if page else ""
    return f"{title}, {where}" if where else title


class ServiceFinder:
    """The interventions of a comune's ambito for the situations a citizen picks."""

    def __init__(self, assistant: Any, situations: Sequence[Situation] | None = None,
                 max_items: int = 12, k: int = 30,
                 reader: InterventionReader | None = None) -> None:
        if assistant is None:
            raise ValueError("assistant must be an Assistant, got None")
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        self.assistant = assistant
        self.situations = list(situations if situations is not None else load_situations())
        ids = [s.id for s in self.situations]
        if len(set(ids)) != len(ids):
            raise ValueError(f"situation ids must be unique, got {ids!r}")
        self.reader = reader or InterventionReader()
        unknown = sorted({t for s in self.situations for t in (*s.targets, *s.exclude)}
                         - set(self.reader.targets.labels))
        if unknown:
            raise ValueError(f"situations name unknown target groups: {unknown!r}")
        for situation in self.situations:
            for topic in situation.topics:
                try:
                    re.compile(topic)
                except re.error as exc:
                    raise ValueError(f"situation {situation.id!r} has a bad topic "
                                     f"{topic!r}: {exc}") from exc
        self.max_items = max_items
        self.k = k
        self.overview_targets = int(interventions_data().get("overview_targets") or 0)

    def by_id(self, situation_id: str) -> Situation:
        for situation in self.situations:
            if situation.id == situation_id or situation.label == situation_id:
                return situation
        raise ValueError(f"unknown situation {str(situation_id)[:80]!r}; known: "
                         f"{', '.join(s.id for s in self.situations)}")

    def chosen(self, situation_ids: Sequence[str]) -> list[Situation]:
        """The situations asked for, each once, in the order given. Only the first
        ``MAX_SITUATION_REQUESTS`` names are read, and only until every known situation has
        been named, so a request repeating one situation thousands of times costs what one
        does."""
        chosen: dict[str, Situation] = {}
        for raw in islice(situation_ids or (), MAX_SITUATION_REQUESTS):
            if len(chosen) == len(self.situations):
                break
            situation = self.by_id(str(raw)[:MAX_SITUATION_ID_CHARS])
            chosen.setdefault(situation.id, situation)
        return list(chosen.values())

    def find(self, situation_ids: Sequence[str], comune: str,
             progress: Progress | None = None) -> tuple[str | None, list[SituationResult]]:
        """The notice (comune -> ambito; None when no situation is chosen) and, per
        situation, the services found."""
        chosen = self.chosen(situation_ids)
        comune = " ".join((comune or "").split())[:MAX_COMUNE_CHARS]
        where = Filters(comune=comune or None)
        results: list[SituationResult] = []
        notice = None
        for index, situation in enumerate(chosen):
            if progress:
                progress(index, len(chosen), situation.label)
            found = self.assistant.search(situation.query, self.k, where)
            notice = _place_notice(found.place, found.filters.ambito)
            results.append(self._services(situation, found.hits))
        if progress:
            progress(len(chosen), len(chosen), "")
        return notice, results

    def _services(self, situation: Situation, hits: Sequence[Any]) -> SituationResult:
        result = SituationResult(situation.id, situation.label)
        seen: set[str] = set()
        for hit in hits:
            chunk = hit.chunk
            for item in self.reader.read(chunk.text, chunk.section, chunk.title):
                key = normalize(item.text)
                if key in seen or not situation.wants(item) or not self._for_citizens(item):
                    continue
                seen.add(key)
                result.items.append(ServiceItem(
                    text=_display_line(item.text), area=_area(item.heading),
                    source_label=source_label(chunk.title, chunk.page),
                    url=render.document_url(chunk.source, chunk.page, chunk.id)))
                if len(result.items) >= self.max_items:
                    return result
        return result


    def _for_citizens(self, item: Intervention) -> bool:
        """Not a measure for the staff, nor an overview naming every group."""
        if set(item.targets) & set(self.reader.staff_targets):
            return False
        return not (self.overview_targets and len(item.targets) >= self.overview_targets)


def _place_notice(place: str | None, ambito: str | None) -> str | None:
    if place and ambito and normalize(place) != normalize(ambito):
        return messages.text("answer_intro_place", comune=place.title(), ambito=ambito)
    return None


def _display_line(text: str, limit: int = 240) -> str:
    """The intervention on one line, for the citizen's list: leading article dropped."""
    line = render.one_line(text, limit).strip(" ;,§•-–*")
    line = re.sub(r"^(con|e|ed|il|lo|la|l’|l'|i|gli|le)\s+(?=\w)", "", line, flags=re.I)
    return line[:1].upper() + line[1:] if line else ""


def _area(heading: str | None) -> str:
    if not heading:
        return ""
    area = re.sub(r"^l[’']area strategica:\s*", "", heading.strip(), flags=re.I)
    return " ".join(area.split()).rstrip(".:")


# ---- staff search ------------------------------------------------------------------------
@dataclass(frozen=True)
class InterventionRow:
    intervento: str
    area: str
    destinatari: str
    fonte: str
    ambito: str
    documento: str          # "Title, pag. 3"
    url: str = ""
    titolo: str = ""        # the document's title
    pagina: int | None = None
    sezione: str = ""       # the whole section path of the passage

    def cells(self) -> list[str]:
        """The table's columns (``search.columns`` of ui_it.yaml)."""
        return [self.intervento, self.area, self.destinatari, self.fonte, self.ambito,
                self.documento]

    def csv_cells(self, base_url: str = "") -> list[str]:
        """The CSV's columns (``csv.columns`` of interventions_it.yaml), nothing cut."""
        link = self.url
        if base_url and link and "://" not in link:
            link = base_url.rstrip("/") + "/" + link.lstrip("/")
        return [self.intervento, self.area, self.destinatari, self.fonte, self.ambito,
                self.titolo or self.documento, str(self.pagina or ""), self.sezione, link]


class InterventionSearch:
    """Keyword search over the passages, one row per matching intervention, optionally
    restricted to a funding source and a target group."""

    def __init__(self, assistant: Any, funding: Mapping[str, Sequence[str]] | None = None,
                 targets: Mapping[str, Sequence[str]] | None = None, k: int = 15,
                 limit: int = 60, reader: InterventionReader | None = None) -> None:
        if assistant is None:
            raise ValueError("assistant must be an Assistant, got None")
        if k < 1 or limit < 1:
            raise ValueError(f"k and limit must be >= 1, got k={k!r}, limit={limit!r}")
        self.assistant = assistant
        self.reader = reader or InterventionReader(funding=funding, targets=targets)
        self.k = k
        self.limit = limit

    @property
    def funding_labels(self) -> list[str]:
        """The funding sources one can filter on (for the UI's dropdown)."""
        return self.reader.funding.labels

    @property
    def target_labels(self) -> list[str]:
        """The target groups one can filter on (for the UI's dropdown)."""
        return self.reader.targets.labels

    def search(self, query: str, filters: Filters | None = None, *,
               funding: str | None = None, target: str | None = None) -> list[InterventionRow]:
        """Rows for the interventions about ``query``; with ``funding`` / ``target`` (labels
        of :attr:`funding_labels` / :attr:`target_labels`, case ignored) only those funded
        by that source / aimed at that group. The query may be empty when a label is given.
        An unknown label matches nothing."""
        wanted = _Wanted(self.reader.funding.canonical(funding) if funding else None,
                         self.reader.targets.canonical(target) if target else None)
        if (funding and not wanted.funding) or (target and not wanted.target):
            return []
        query = (query or "").strip()
        by_label_only = not query and wanted.any()
        query = wanted.as_query() if by_label_only else self.assistant.check_question(query)
        found = self.assistant.search(query, self.k * 4 if wanted.any() else self.k,
                                      filters or Filters())
        keywords = None if by_label_only else set(terms(query)) | set(found.added_terms)
        hits = found.hits
        rows: list[InterventionRow] = []
        seen: set[str] = set()
        for hit in hits:
            for item in self._matching(hit.chunk, keywords):
                key = normalize(f"{item.heading}\n{item.text}")  # one line, two areas: two rows
                if key in seen or not wanted.accepts(item):
                    continue
                seen.add(key)
                rows.append(self._row(item, hit.chunk))
                if len(rows) >= self.limit:
                    return rows
        return rows

    def _matching(self, chunk: Any, keywords: set[str] | None) -> list[Intervention]:
        """The passage's interventions about the keywords: those whose text (or labels)
        names them; all of them when their heading does; the first one when only the
        title does; none when the passage was found by meaning alone. Every one of them
        when there are no keywords (a search by label only)."""
        items = self.reader.read(chunk.text, chunk.section, chunk.title)
        if keywords is None:
            return items
        matching = [i for i in items
                    if keywords & set(terms(" ".join((i.text, *i.funding, *i.targets))))]
        if matching:
            return matching
        if keywords & set(terms(chunk.section or "")):
            return items
        if keywords & set(terms(chunk.title)):
            return items[:1]
        return []

    def _row(self, item: Intervention, chunk: Any) -> InterventionRow:
        meta = chunk.metadata
        ambito = meta.get("ambito") or (
            texts.text("search.national") if normalize(str(meta.get("region", ""))) == "italia"
            else str(meta.get("region") or ""))
        documento = chunk.title + (", " + texts.text("answer.source_page", page=chunk.page)
                                   if chunk.page else "")
        return InterventionRow(
            intervento=_row_text(item.text), area="" if item.table_row else _area(item.heading),
            destinatari=", ".join(item.targets), fonte=", ".join(item.funding),
            ambito=str(ambito), documento=documento,
            url=render.document_url(chunk.source, chunk.page, chunk.id),
            titolo=chunk.title, pagina=chunk.page, sezione=chunk.section or "")


@dataclass(frozen=True)
class _Wanted:
    """The funding source and target group a search is restricted to (None: any)."""

    funding: str | None = None
    target: str | None = None

    def any(self) -> bool:
        return bool(self.funding or self.target)

    def as_query(self) -> str:
        return " ".join(x for x in (self.funding, self.target) if x)

    def accepts(self, item: Intervention) -> bool:
        return (not self.funding or self.funding in item.funding) \
            and (not self.target or self.target in item.targets)


def _row_text(text: str) -> str:
    """The intervention's whole text, leading conjunction or article dropped."""
    line = " ".join(text.split()).lstrip(" §•-–*").rstrip(" ;,")
    line = re.sub(r"^(con|e|ed)\s+(?=\w)", "", line, flags=re.I)
    return line[:1].upper() + line[1:] if line else ""


# ---- Domande senza risposta ----------------------------------------------------------------
def unanswered_report(feedback: Any) -> str:
    """HTML of the refused or 👎 questions of a FeedbackStore, by topic and week (the hook
    the operator app calls; the unit is :mod:`assistant.ui.unanswered`)."""
    from .unanswered import UnansweredReport, report_html

    return report_html(UnansweredReport(feedback))


# ---- CSV ---------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> str:
    """A cell a spreadsheet will not run as a formula: one starting with =, +, -, @, a tab
    or a carriage return gets a leading apostrophe (OWASP's advice for CSV injection)."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(_FORMULA_START) else text


def rows_to_csv(rows: Sequence[InterventionRow], columns: Sequence[str] | None = None,
                base_url: str = "", delimiter: str | None = None) -> str:
    """CSV text for Italian spreadsheets: ";" separated, UTF-8 with a BOM, every cell whole,
    with the document, page, section and link of each intervention; cells that a
    spreadsheet would read as formulas are escaped."""
    settings = interventions_data()["csv"]
    columns = list(columns or settings["columns"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter or settings["delimiter"],
                        lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(c) for c in columns])
    for row in rows:
        writer.writerow([spreadsheet_safe(c) for c in row.csv_cells(base_url)][:len(columns)])
    return "\ufeff" + buffer.getvalue()
