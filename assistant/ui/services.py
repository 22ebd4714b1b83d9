"""Two ways to list interventions, both built on retrieval over the indexed documents.

* :class:`ServiceFinder` ("Servizi per me"): for each situation a citizen picks, a question
  defined in ``ui_it.yaml`` is asked in the comune's ambito; the cited sentences become
  the list of services, each with its source.
* :class:`InterventionSearch` (staff): keyword search whose results are split into
  intervention lines, with area, target groups, funding source, ambito and document derived
  heuristically from the passage (vocabularies in ``ui_it.yaml``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..answering import sentences
from ..expansion import QueryExpander
from ..retrieval import Filters
from ..text import normalize, terms
from . import render, texts


# ---- Servizi per me ----------------------------------------------------------------------
@dataclass(frozen=True)
class Situation:
    id: str
    label: str
    query: str


@dataclass(frozen=True)
class ServiceItem:
    text: str           # the one-line description (the cited sentence)
    area: str           # the section it comes from, if any
    source_label: str   # "Title, pag. 3"
    url: str


@dataclass
class SituationResult:
    id: str
    label: str
    items: list[ServiceItem] = field(default_factory=list)


def load_situations() -> list[Situation]:
    return [Situation(str(s["id"]), str(s["label"]), str(s["query"]))
            for s in texts.section("situazioni")]


def source_label(title: str, page: int | None) -> str:
    where = texts.text("answer.source_page", page=page) if page else ""
    return f"{title}, {where}" if where else title


class ServiceFinder:
    """The interventions of a comune's ambito for the situations a citizen picks."""

    def __init__(self, assistant: Any, situations: Sequence[Situation] | None = None,
                 max_items: int = 8) -> None:
        if assistant is None:
            raise ValueError("assistant must be an Assistant, got None")
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items!r}")
        self.assistant = assistant
        self.situations = list(situations if situations is not None else load_situations())
        ids = [s.id for s in self.situations]
        if len(set(ids)) != len(ids):
            raise ValueError(f"situation ids must be unique, got {ids!r}")
        self.max_items = max_items

    def by_id(self, situation_id: str) -> Situation:
        for situation in self.situations:
            if situation.id == situation_id or situation.label == situation_id:
                return situation
        raise ValueError(f"unknown situation {situation_id!r}; known: "
                         f"{', '.join(s.id for s in self.situations)}")

    def find(self, situation_ids: Sequence[str], comune: str,
             progress: Any = None) -> tuple[str | None, list[SituationResult]]:
        """The notice (comune -> ambito) and, per situation, the services found."""
        notice: str | None = None
        results: list[SituationResult] = []
        chosen = [self.by_id(s) for s in situation_ids]
        for index, situation in enumerate(chosen):
            if progress:
                progress(index, len(chosen), situation.label)
            answer = self.assistant.ask(situation.query, filters=Filters(comune=comune))
            notice = notice or answer.notice
            result = SituationResult(situation.id, situation.label)
            seen: set[str] = set()
            if not answer.refused:
                for citation in answer.citations:
                    for sentence in citation.highlights or []:
                        line = _service_line(sentence)
                        key = normalize(line)
                        if not line or key in seen:
                            continue
                        seen.add(key)
                        result.items.append(ServiceItem(
                            text=line, area=_area(citation.section),
                            source_label=source_label(citation.title, citation.page),
                            url=render.document_url(citation.source, citation.page,
                                                    citation.chunk_id)))
            result.items = result.items[:self.max_items]
            results.append(result)
        if progress:
            progress(len(chosen), len(chosen), "")
        return notice, results


def _service_line(sentence: str) -> str:
    line = render.one_line(sentence, 240).strip(" ;,§•-–*")
    line = re.sub(r"^(con|e|ed|il|lo|la|l’|l'|i|gli|le)\s+(?=\w)", "", line, flags=re.I)
    return line[:1].upper() + line[1:] if line else ""


def _area(section: str | None) -> str:
    if not section:
        return ""
    area = re.sub(r"^l[’']area strategica:\s*", "", section.strip(), flags=re.I)
    return render.one_line(area, 80)


# ---- staff search ------------------------------------------------------------------------
@dataclass(frozen=True)
class InterventionRow:
    intervento: str
    area: str
    destinatari: str
    fonte: str
    ambito: str
    documento: str
    url: str = ""

    def cells(self) -> list[str]:
        return [self.intervento, self.area, self.destinatari, self.fonte, self.ambito,
                self.documento]


class Vocabulary:
    """Labels found in a text through case-insensitive regular expressions."""

    def __init__(self, patterns: Mapping[str, Sequence[str]]) -> None:
        if not patterns:
            raise ValueError("patterns must map at least one label to expressions")
        self.rules = [(label, [re.compile(p, re.IGNORECASE) for p in exprs])
                      for label, exprs in patterns.items()]

    def find(self, *texts_: str) -> list[str]:
        """Labels found in the first text that has any (the line, then its passage)."""
        for text in texts_:
            found = [label for label, exprs in self.rules if any(e.search(text or "")
                                                               for e in exprs)]
            if found:
                return found
        return []


class InterventionSearch:
    """Keyword search over the passages, one row per matching intervention line."""

    def __init__(self, assistant: Any, funding: Mapping[str, Sequence[str]] | None = None,
                 targets: Mapping[str, Sequence[str]] | None = None, k: int = 15,
                 limit: int = 60) -> None:
        if assistant is None:
            raise ValueError("assistant must be an Assistant, got None")
        if k < 1 or limit < 1:
            raise ValueError(f"k and limit must be >= 1, got k={k!r}, limit={limit!r}")
        self.assistant = assistant
        self.funding = Vocabulary(funding or texts.section("funding"))
        self.targets = Vocabulary(targets or texts.section("targets"))
        self.k = k
        self.limit = limit

    def search(self, query: str, filters: Filters | None = None) -> list[InterventionRow]:
        query = self.assistant.check_question(query)
        self.assistant.refresh()
        filters = filters or Filters()
        if filters.comune:
            filters, _place = self.assistant.resolve_places(query, filters)
        expansions = self.assistant.expander.expand(query)
        extra = QueryExpander.extra_terms(expansions)
        wanted = set(terms(query)) | set(extra)
        hits = self.assistant.retriever.retrieve(query, self.k, filters, extra)
        rows: list[InterventionRow] = []
        seen: set[str] = set()
        for hit in hits:
            for line in self._lines(hit.chunk, wanted):
                row = self._row(line, hit.chunk)
                key = normalize(row.intervento)
                if key in seen:
                    continue
                seen.add(key)
                rows.append(row)
                if len(rows) >= self.limit:
                    return rows
        return rows

    @staticmethod
    def _lines(chunk: Any, wanted: set[str]) -> list[str]:
        """The passage's lines about the keywords: those that name them; all of them when
        the section does (its lines are that area's interventions); the first one when only
        the title does; none when the passage was found by meaning alone."""
        lines = sentences(chunk.text)
        matching = [s for s in lines if wanted & set(terms(s))]
        if matching:
            return matching
        if wanted & set(terms(chunk.section or "")):
            return lines[:6]
        if wanted & set(terms(chunk.title)):
            return lines[:1]
        return []

    def _row(self, line: str, chunk: Any) -> InterventionRow:
        meta = chunk.metadata
        passage = " ".join((chunk.section or "", chunk.text))
        ambito = meta.get("ambito") or (
            texts.text("search.national") if normalize(str(meta.get("region", ""))) == "italia"
            else str(meta.get("region") or ""))
        documento = chunk.title + (", " + texts.text("answer.source_page", page=chunk.page)
                                   if chunk.page else "")
        return InterventionRow(
            intervento=_service_line(line),
            area=_area(chunk.section),
            destinatari=", ".join(self.targets.find(line, chunk.section or "", passage)),
            fonte=", ".join(self.funding.find(line, chunk.section or "", passage)),
            ambito=str(ambito),
            documento=documento,
            url=render.document_url(chunk.source, chunk.page, chunk.id),
        )


def rows_to_csv(rows: Sequence[InterventionRow], columns: Sequence[str] | None = None) -> str:
    """CSV text (comma separated, UTF-8 with a BOM so spreadsheet programs read accents)."""
    columns = list(columns or texts.section("search.columns"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row.cells())
    return "\ufeff" + buffer.getvalue()
