"""What the web interface does, as plain Python: testable without Gradio or a browser.

:class:`UIController` turns widget values into calls on the :class:`~assistant.Assistant`
and returns HTML, table rows and status texts. ``blocks.py`` only wires it to widgets.
Errors of the assistant become Italian messages here, at the edge.
"""

from __future__ import annotations

import html
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from .. import messages
from ..conversation import Turn
from ..corpus_facts import Facets
from ..errors import AssistantError
from ..retrieval import Filters
from . import render, texts
from .documents import DocumentLibrary, Uploader
from .feedback import FeedbackRecord, FeedbackStore
from .services import InterventionSearch, ServiceFinder, rows_to_csv

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
Message = dict[str, Any]
Record = dict[str, Any]


def corpus_facets(assistant: Any) -> Facets:
    """What the filters offer: :meth:`Assistant.facets` (read from the index state in
    memory, not from the store)."""
    facets: Facets = assistant.facets()
    return facets


def plain_history(history: Sequence[Any] | None) -> list[Message]:
    """Chatbot messages as ``{"role", "content": str}`` (Gradio passes content blocks)."""
    out: list[Message] = []
    for message in history or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(block.get("text", "") for block in content
                              if isinstance(block, dict) and block.get("type") == "text")
        out.append({"role": message.get("role", "user"), "content": str(content or "")})
    return out


def assistant_positions(history: Sequence[Message]) -> list[int]:
    return [i for i, m in enumerate(history) if m.get("role") == "assistant"]


def to_turns(records: Sequence[Record]) -> list[Turn]:
    """The conversation so far, as the assistant's follow-up rewriting expects it."""
    return [Turn(str(r.get("question", "")), str(r.get("answer", ""))) for r in records or []]


def make_filters(comune: str | None = None, ambito: str | None = None,
                 doc_type: str | None = None, year: str | int | None = None) -> Filters:
    """Widget values ("" means any) as :class:`Filters`; a comune wins over an ambito."""
    comune = (comune or "").strip() or None
    ambito = (ambito or "").strip() or None
    text = str(year or "").strip()
    year_value = int(text) if text.isdigit() else None
    return Filters(ambito=None if comune else ambito, comune=comune,
                   doc_type=(doc_type or "").strip() or None, year=year_value)


def liked_rating(liked: Any) -> str | None:
    """Gradio's ``LikeData.liked`` as "up", "down" or None (vote withdrawn)."""
    if liked is True or (isinstance(liked, str) and liked.lower() in ("like", "up")):
        return "up"
    if liked is False or (isinstance(liked, str) and liked.lower() in ("dislike", "down")):
        return "down"
    return None


class UIController:
    """The interface's behaviour over one :class:`~assistant.Assistant`."""

    def __init__(self, assistant: Any, feedback: FeedbackStore | None = None,
                 services: ServiceFinder | None = None,
                 search: InterventionSearch | None = None, uploader: Uploader | None = None,
                 library: DocumentLibrary | None = None, export_dir: Path | None = None) -> None:
        if assistant is None:
            raise ValueError("assistant must be an Assistant, got None")
        self.assistant = assistant
        self.feedback = feedback or FeedbackStore()
        self.services_finder = services or ServiceFinder(assistant)
        self.intervention_search = search or InterventionSearch(assistant)
        self.uploader = uploader or Uploader.for_settings(assistant.settings)
        self.library = library or DocumentLibrary(assistant)
        self.export_dir = Path(export_dir) if export_dir else None
        self._facets: Facets | None = None

    # ---- filters -------------------------------------------------------------------------
    @property
    def facets(self) -> Facets:
        if self._facets is None:
            self._facets = corpus_facets(self.assistant)
        return self._facets

    def refresh_facets(self) -> Facets:
        self._facets = None
        return self.facets

    def _any(self) -> list[tuple[str, str]]:
        return [(texts.text("filters.all"), "")]

    def comune_choices(self) -> list[tuple[str, str]]:
        return self._any() + [(texts.text("filters.comune_choice", comune=c, ambito=a), c)
                              for c, a in self.facets.comuni]

    def ambito_choices(self) -> list[tuple[str, str]]:
        return self._any() + [(a, a) for a in self.facets.ambiti]

    def doc_type_choices(self) -> list[tuple[str, str]]:
        return self._any() + [(d, d) for d in self.facets.doc_types]

    def year_choices(self) -> list[tuple[str, str]]:
        return self._any() + [(str(y), str(y)) for y in self.facets.years]

    def place_choices(self) -> list[tuple[str, str]]:
        """For "Servizi per me": every comune, and the ambiti whose comuni are unknown."""
        with_comuni = {a for _, a in self.facets.comuni}
        places = [(texts.text("filters.comune_choice", comune=c, ambito=a), c)
                  for c, a in self.facets.comuni]
        places += [(texts.text("filters.ambito_choice", ambito=a), a)
                   for a in self.facets.ambiti if a not in with_comuni]
        return places

    def situation_choices(self) -> list[tuple[str, str]]:
        return [(s.label, s.id) for s in self.services_finder.situations]

    # ---- chat ----------------------------------------------------------------------------
    def chat(self, message: str, history: Sequence[Any] | None, records: Sequence[Record] | None,
             comune: str | None = None, ambito: str | None = None, doc_type: str | None = None,
             year: str | None = None) -> Iterator[tuple[list[Message], str, list[Record]]]:
        """Yields (chat messages, text box value, conversation records) as the answer is
        written: ``Assistant.ask_stream``'s text as it comes, then the finished answer with
        its sources.

        ``records`` hold, per answer, the plain question and answer (for follow-ups and
        feedback); they stay aligned with the assistant messages of the chat.
        """
        messages_ = plain_history(history)
        records = list(records or [])[:len(assistant_positions(messages_))]
        question = (message or "").strip()
        if not question:
            yield messages_, "", records
            return
        messages_.append({"role": "user", "content": html.escape(question)})
        messages_.append({"role": "assistant", "content": render.thinking_html()})
        yield messages_, "", records
        filters = make_filters(comune, ambito, doc_type, year)
        anchor = f"m{len(messages_) - 1}"
        written = ""
        try:
            for kind, value in self.assistant.ask_stream(question, to_turns(records), filters):
                if kind == "delta" and value:
                    written += str(value)
                    messages_[-1] = {"role": "assistant", "content": render.partial_html(written)}
                    yield messages_, "", records
                elif kind == "final":
                    answer = value
                    break
            else:
                raise RuntimeError("ask_stream ended without a final answer")
        except AssistantError as exc:
            yield self._chat_error(messages_, records, question, filters,
                                   messages.for_error(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the user gets a message, the log the trace
            log.exception("chat failed for %r", question)
            yield self._chat_error(messages_, records, question, filters,
                                   texts.text("chat.error", detail=type(exc).__name__))
            return
        record = _record(question, answer.answer, answer.refused,
                         [c.as_json() for c in answer.citations], filters, answer.notice)
        messages_[-1] = {"role": "assistant",
                         "content": render.answer_html(answer, self.assistant.expander.acronyms,
                                                       anchor=anchor)}
        yield messages_, "", records + [record]

    @staticmethod
    def _chat_error(messages_: list[Message], records: list[Record], question: str,
                    filters: Filters, text: str) -> tuple[list[Message], str, list[Record]]:
        messages_[-1] = {"role": "assistant", "content": render.error_html(text)}
        return messages_, "", records + [_record(question, text, True, [], filters)]

    def ask_json(self, question: str, comune: str = "", ambito: str = "", doc_type: str = "",
                 year: str = "") -> dict[str, Any]:
        """One question, the CLI's JSON contract (for API clients)."""
        filters = make_filters(comune, ambito, doc_type, year)
        try:
            answer = self.assistant.ask(question, filters=filters)
        except AssistantError as exc:
            return {"question": question, "answer": messages.for_error(exc), "refused": True,
                    "notice": None, "citations": []}
        contract: dict[str, Any] = answer.as_json()
        return contract

    # ---- feedback ------------------------------------------------------------------------
    def rate(self, records: Sequence[Record] | None, history: Sequence[Any] | None,
             index: Any, liked: Any) -> tuple[str, int | None]:
        """Store a thumbs up/down for the message at ``index``; (status, feedback id).

        The answer's record remembers its feedback id, so that changing the rating (👎 to
        👍) updates the same row instead of adding a second one."""
        rating = liked_rating(liked)
        if rating is None:
            return "", None
        messages_ = plain_history(history)
        position = index[0] if isinstance(index, (list, tuple)) else index
        positions = assistant_positions(messages_)
        if not isinstance(position, int) or position not in positions:
            return texts.text("feedback.nothing_to_rate"), None
        turn = positions.index(position)
        records = list(records or [])
        if turn >= len(records):
            return texts.text("feedback.nothing_to_rate"), None
        record = records[turn]
        feedback_id = record.get("feedback_id")
        if not (isinstance(feedback_id, int) and self.feedback.rerate(feedback_id, rating)):
            settings = self.assistant.settings
            feedback_id = self.feedback.add(FeedbackRecord(
                rating=rating, question=record.get("question", ""),
                answer=record.get("answer", ""), citations=record.get("citations", []),
                embedder=settings.embedder, retriever=settings.retriever,
                answerer=settings.answerer, filters=record.get("filters") or {}))
            if isinstance(record, dict):  # the session's own record (a gr.State value)
                record["feedback_id"] = feedback_id
        key = "feedback.thanks_up" if rating == "up" else "feedback.thanks_down"
        return texts.text(key), feedback_id

    def add_comment(self, feedback_id: int | None, comment: str | None) -> str:
        if not feedback_id:
            return texts.text("feedback.comment_without_rating")
        if not (comment or "").strip():
            return ""
        self.feedback.comment(int(feedback_id), comment or "")
        return texts.text("feedback.comment_saved")

    # ---- Servizi per me ------------------------------------------------------------------
    def services(self, situations: Sequence[str] | None, comune: str | None,
                 progress: Progress | None = None) -> str:
        if not situations:
            return render.status_html(texts.text("services.need_situation"), "errore")
        if not (comune or "").strip():
            return render.status_html(texts.text("services.need_comune"), "errore")
        try:
            notice, results = self.services_finder.find(list(situations), comune or "",
                                                        progress)
        except AssistantError as exc:
            return render.status_html(messages.for_error(exc), "errore")
        return render.services_html(notice, results)

    # ---- staff search --------------------------------------------------------------------
    def search(self, query: str | None, ambito: str | None = None,
               doc_type: str | None = None, year: str | None = None,
               funding: str | None = None, target: str | None = None
               ) -> tuple[list[list[str]], str | None, str]:
        """(table rows, CSV file path or None, status text). The query may be empty when a
        funding source or a target group is chosen."""
        query = (query or "").strip()
        funding = (funding or "").strip() or None
        target = (target or "").strip() or None
        if not query and not (funding or target):
            return [], None, texts.text("search.need_query")
        labels = {k: v for k, v in (("funding", funding), ("target", target)) if v}
        try:
            rows = self.intervention_search.search(
                query, make_filters(None, ambito, doc_type, year), **labels)
        except AssistantError as exc:
            return [], None, messages.for_error(exc)
        if not rows:
            return [], None, texts.text("search.none_found", query=query or
                                        " · ".join(labels.values()))
        folder = self.export_dir or Path(tempfile.mkdtemp(prefix="assistente-csv-"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / texts.text("search.csv_name")
        path.write_text(rows_to_csv(rows), encoding="utf-8")
        return [r.cells() for r in rows], str(path), texts.text("search.count", count=len(rows))

    # ---- documents -----------------------------------------------------------------------
    def document_rows(self) -> list[list[Any]]:
        fmt = texts.text("documents.date_format")
        rows = []
        for doc in self.assistant.documents():
            when = doc.get("indexed_at")
            stamp = datetime.fromtimestamp(when).strftime(fmt) if when else ""
            rows.append([doc.get("title") or doc["source"], doc["source"],
                         int(doc.get("pages") or 0), int(doc.get("chunks") or 0), stamp])
        return rows

    def public_document_rows(self) -> list[list[Any]]:
        """For citizens: each document as a link that opens it, and the day it was indexed."""
        return [[render.markdown_link(title, render.document_url(source)), stamp.split(" ")[0]]
                for title, source, _pages, _chunks, stamp in self.document_rows()]

    def upload(self, files: Sequence[Any] | None, progress: Progress | None = None,
               replace: bool = False) -> str:
        """Save the files into the corpus, re-index, and say what happened. A file named as
        a document that exists is refused unless ``replace`` (the old version is kept)."""
        outcome = self.uploader.save(list(files or []), replace=bool(replace))
        summary = None
        skipped: list[tuple[str, str]] = []
        if outcome.saved:
            try:
                report = self.assistant.ingest(progress=progress)
            except AssistantError as exc:
                summary = messages.for_error(exc)
            else:
                summary = messages.text("ingest_summary",
                                        **{**report.as_dict(), "seconds": report.seconds})
                limit = f"{self.assistant.settings.max_file_mb:g}"
                skipped = [(s.source, messages.skip_reason(s.reason, s.detail, limit_mb=limit))
                           for s in report.skipped]
                # an upload the ingest refused leaves nothing in the corpus
                kept = dict(outcome.versions)
                refused = {s.source for s in report.skipped if not s.kept}
                for name, _replaced in outcome.saved:
                    if name in refused:
                        self.uploader.withdraw(name, kept.get(name))
            self.refresh_facets()
        return render.upload_summary_html(outcome.saved, outcome.refused, summary, skipped)


    def document_entry(self, source: str | None) -> dict[str, str]:
        """The catalog fields of one document, as texts for the edit form."""
        from ..ingestion.catalog import Catalog

        corpus = Path(self.assistant.settings.corpus_dir)
        info = Catalog.load(corpus).entries.get((source or "").strip())
        if info is None:
            return {"title": "", "type": "", "ambito": "", "comuni": "", "year": ""}
        return {"title": info.title, "type": info.doc_type, "ambito": info.ambito or "",
                "comuni": ", ".join(info.comuni), "year": str(info.year or "")}

    def edit_document(self, source: str | None, fields: dict[str, str],
                      progress: Progress | None = None) -> str:
        """Write one document's catalog entry (title, type, ambito, comuni, year) and
        re-index it; an invalid value is explained and changes nothing."""
        from ..ingestion.catalog import update_document

        source = (source or "").strip()
        if self.library.resolve(source) is None:
            return render.status_html(texts.text("documents.delete_unknown"), "errore")
        try:
            update_document(Path(self.assistant.settings.corpus_dir), source, fields)
        except AssistantError as exc:
            return render.status_html(messages.for_error(exc), "errore")
        return self._reindex(progress, lambda report: texts.text(
            "documents.edited", source=source, seconds=f"{report.seconds:.1f}"))

    def _reindex(self, progress: Progress | None, done: Callable[[Any], str]) -> str:
        """Re-index after an operator's change: ``done(report)`` on success, else the
        error explained; the facets are read again either way."""
        try:
            report = self.assistant.ingest(progress=progress)
        except AssistantError as exc:
            return render.status_html(messages.for_error(exc), "errore")
        finally:
            self.refresh_facets()
        return render.status_html(done(report))

    def delete_document(self, source: str | None, confirmation: str | None,
                        progress: Progress | None = None) -> str:
        """Move an indexed document out of the corpus (into a folder of removed documents
        beside it, never deleted outright) and re-index; ``confirmation`` must repeat the
        file name."""
        source = (source or "").strip()
        path = self.library.resolve(source) if source else None
        if path is None:
            return render.status_html(texts.text("documents.delete_unknown"), "errore")
        if (confirmation or "").strip() != source:
            return render.status_html(texts.text("documents.delete_confirm", source=source),
                                      "errore")
        corpus = Path(self.assistant.settings.corpus_dir).resolve()
        removed = corpus.parent / f"{corpus.name}-eliminati"
        target = removed / f"{datetime.now():%Y%m%d-%H%M%S}" / source
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        return self._reindex(progress, lambda report: texts.text(
            "documents.deleted", source=source, folder=str(target.parent),
            seconds=f"{report.seconds:.1f}"))

    # ---- unanswered questions (operators) ----------------------------------------------------
    def unanswered_html(self) -> str:
        """The report of what citizens asked that was refused or rated down, when the
        services module offers one (``services.unanswered_report``); a notice otherwise."""
        from . import services

        report = getattr(services, "unanswered_report", None)
        if report is None:
            return render.status_html(texts.text("operator.unanswered_missing"))
        try:
            return str(report(self.feedback))
        except AssistantError as exc:
            return render.status_html(messages.for_error(exc), "errore")

    def export_unanswered(self) -> tuple[str | None, str]:
        """(CSV file path or None, status): the unanswered questions by topic and week, for
        Italian spreadsheets (:mod:`assistant.ui.unanswered`)."""
        try:
            from .unanswered import UnansweredReport
        except ImportError:
            return None, texts.text("operator.unanswered_missing")
        report = UnansweredReport(self.feedback)
        groups = report.groups()
        if not groups:
            return None, texts.text("operator.unanswered_empty")
        folder = self.export_dir or Path(tempfile.mkdtemp(prefix="assistente-senza-risposta-"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / texts.text("operator.unanswered_csv_name")
        path.write_text(report.topics_csv(groups), encoding="utf-8")
        return str(path), texts.text("operator.unanswered_count",
                                     count=sum(g.count for g in groups), topics=len(groups))

    # ---- feedback export (operators) -------------------------------------------------------
    def export_feedback(self) -> tuple[str | None, str]:
        """(CSV file path or None, status) of every stored rating, as ``feedback export``."""
        rows = list(self.feedback.rows())
        if not rows:
            return None, texts.text("feedback.export_empty")
        folder = self.export_dir or Path(tempfile.mkdtemp(prefix="assistente-valutazioni-"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / texts.text("feedback.csv_name")
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            count = self.feedback.export_csv(handle)
        return str(path), texts.text("feedback.export_count", count=count)


def _record(question: str, answer: str, refused: bool, citations: list[dict[str, Any]],
            filters: Filters, notice: str | None = None) -> Record:
    return {"question": question, "answer": answer, "refused": refused,
            "citations": citations, "notice": notice,
            "filters": {k: v for k, v in filters.__dict__.items() if v}}
