"""HTML for answers, sources, acronyms, service lists and document pages.

Every piece of text that comes from a document or a user is escaped here; the only tags
in the output are the ones these functions write. The chat shows the HTML through Gradio's
Markdown renderer, so the blocks never contain blank lines (which would end an HTML block).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence
from urllib.parse import quote

from ..expansion import acronym_key
from . import texts

if TYPE_CHECKING:
    from ..answering import Answer, Citation
    from .services import SituationResult

# ``QueryExpander.acronyms``: normalised acronym -> (label, meaning, phrases added)
AcronymTable = Mapping[str, tuple[str, str, tuple[str, ...]]]

DOCUMENT_ROUTE = "documenti"
PASSAGE_ANCHOR = "passaggio"
_MARKER = re.compile(r"\s*\[(\d+)\]")
_TOKEN = re.compile(r"[\w.]+", re.UNICODE)


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def one_line(text: str, limit: int = 240) -> str:
    """Whitespace collapsed, cut at a word boundary with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


# ---- highlighting ------------------------------------------------------------------------
def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    parts = phrase.split()
    if not parts:
        return None
    return re.compile(r"\s+".join(re.escape(p) for p in parts), re.IGNORECASE)


def highlight_spans(text: str, phrases: Iterable[str]) -> list[tuple[int, int]]:
    """Where the phrases occur in ``text`` (whitespace-insensitive), merged and sorted."""
    spans: list[tuple[int, int]] = []
    for phrase in phrases:
        pattern = _phrase_pattern(phrase or "")
        if pattern is None:
            continue
        for match in pattern.finditer(text):
            spans.append(match.span())
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, phrases: Iterable[str], breaks: bool = True) -> str:
    """``text`` escaped, with each phrase wrapped in ``<mark>``; paragraphs become ``<br>``."""
    out: list[str] = []
    pos = 0
    for start, end in highlight_spans(text, phrases):
        out.append(_escape_block(text[pos:start], breaks))
        out.append(f"<mark>{_escape_block(text[start:end], breaks)}</mark>")
        pos = end
    out.append(_escape_block(text[pos:], breaks))
    return "".join(out)


def _escape_block(text: str, breaks: bool) -> str:
    if not breaks:
        return esc(re.sub(r"\s+", " ", text))
    paragraphs = re.split(r"\s*\n\s*\n\s*", text)
    return "<br>".join(esc(re.sub(r"\s+", " ", p)) for p in paragraphs)


# ---- links to documents ------------------------------------------------------------------
def document_url(source: str, page: int | None = None, chunk_id: str | None = None) -> str:
    """Relative link to the app's document route; PDFs open at ``#page=N``."""
    url = f"{DOCUMENT_ROUTE}/{quote(source, safe='/')}"
    if source.lower().endswith(".pdf"):
        return url + (f"#page={int(page)}" if page else "")
    if chunk_id:
        url += f"?{PASSAGE_ANCHOR}={quote(chunk_id, safe='')}#{PASSAGE_ANCHOR}"
    return url


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def markdown_link(label: str, url: str) -> str:
    """``[label](url)`` for a Markdown cell, the label's Markdown characters escaped."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join((label or "").split()))
    return f"[{text}]({quote(url, safe='/#?=&%.:')})"


def link(url: str, label: str, css_class: str = "doc-link", title: str | None = None) -> str:
    hover = f' title="{esc(title)}"' if title else ""
    return (f'<a class="{css_class}" href="{esc(url)}" target="_blank" '
            f'rel="noopener noreferrer"{hover}>{esc(label)}</a>')


def location(page: int | None, section: str | None, ambito: str | None = None) -> str:
    """"Ambito di X · sezione «Y» · pag. N" (the parts that are known)."""
    parts = []
    if ambito:
        parts.append(texts.text("answer.source_ambito", ambito=ambito))
    if section:
        parts.append(texts.text("answer.source_section", section=one_line(section, 90)))
    if page:
        parts.append(texts.text("answer.source_page", page=page))
    return " · ".join(parts)


# ---- answers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class GlossaryTerm:
    term: str
    meaning: str


def glossary_terms(answer: Answer, acronyms: AcronymTable | None = None) -> list[GlossaryTerm]:
    """Acronyms to explain: those the search expanded, then those written in the answer.

    ``acronyms`` is ``QueryExpander.acronyms``: normalised key -> (label, meaning, added).
    An answer word counts when it is written in capitals ("PUA"), between brackets
    ("(Sad)") or capitalised inside a sentence ("della Pua").
    """
    found: list[GlossaryTerm] = []
    seen: set[str] = set()

    def add(term: str, meaning: str) -> None:
        key = acronym_key(term)
        if key not in seen and meaning:
            seen.add(key)
            found.append(GlossaryTerm(term, meaning))

    for exp in getattr(answer, "expansions", None) or []:
        if exp.is_acronym:
            add(exp.term, exp.meaning)
    if acronyms and not answer.refused:
        text = answer.answer or ""
        for match in _TOKEN.finditer(text):
            token = match.group(0).strip(".")
            key = acronym_key(token)
            if len(key) < 2 or key not in acronyms:
                continue
            label, meaning = acronyms[key][0], acronyms[key][1]
            before = text[:match.start()].rstrip()
            bracketed = before.endswith("(")
            mid_sentence = bool(before) and before[-1] not in ".!?;:\n"
            capitalised = token[:1].isupper() and label.replace(".", "").isupper()
            if token.isupper() or bracketed or (capitalised and mid_sentence):
                add(label, meaning)
    return found


def searched_terms(answer: Answer) -> list[str]:
    """The everyday phrasings the search added (not acronyms), for a discreet note."""
    out: list[str] = []
    for exp in getattr(answer, "expansions", None) or []:
        if not exp.is_acronym and not exp.family:  # a family's stems are no phrasing
            for phrase in exp.added[:3]:
                if phrase not in out:
                    out.append(phrase)
    return out


def answer_lines(answer_text: str) -> list[str]:
    return [line for line in (answer_text or "").splitlines() if line.strip()]


def line_html(line: str, anchor: str | None = None) -> str:
    """One answer sentence, escaped, its ``[n]`` markers as superscripts; with ``anchor``
    (the message's own prefix) each marker is a link to its source card below."""
    pieces: list[str] = []
    pos = 0
    for match in _MARKER.finditer(line):
        pieces.append(esc(line[pos:match.start()]))
        number = int(match.group(1))
        if anchor:
            # Gradio's sanitiser drops aria-* attributes: the link's name is hidden text
            label = esc(texts.text("answer.go_to_source", n=number))
            pieces.append(f'<sup class="rif"><a class="rif" href="#{source_id(anchor, number)}">'
                          f'[{number}]<span class="vh"> {label}</span></a></sup>')
        else:
            pieces.append(f'<sup class="rif">[{number}]</sup>')
        pos = match.end()
    pieces.append(esc(line[pos:]))
    return "".join(pieces)


def source_id(anchor: str, number: int) -> str:
    """The HTML id of source card ``number`` of the message ``anchor`` (unique in a chat)."""
    return f"fonte-{re.sub(r'[^A-Za-z0-9_-]', '', anchor)}-{int(number)}"


def notice_html(notice: str | None) -> str:
    return f'<div class="avviso">{esc(notice)}</div>' if notice else ""


def body_html(lines: Sequence[str], refused: bool = False, anchor: str | None = None) -> str:
    css = "risposta rifiuto" if refused else "risposta"
    inner = "".join(f"<p>{line_html(line, anchor)}</p>" for line in lines)
    return f'<div class="{css}">{inner}</div>'


def glossary_html(terms: Sequence[GlossaryTerm]) -> str:
    if not terms:
        return ""
    items = "".join(f"<li><b>{esc(t.term)}</b>: {esc(t.meaning)}</li>" for t in terms)
    return (f'<div class="sigle"><div class="sigle-titolo">{esc(texts.text("answer.acronyms"))}'
            f"</div><ul>{items}</ul></div>")


def searched_html(phrases: Sequence[str]) -> str:
    if not phrases:
        return ""
    return (f'<div class="cercato">'
            f'{esc(texts.text("answer.searched_also", terms=", ".join(phrases)))}</div>')


def source_html(citation: Citation, anchor: str | None = None) -> str:
    """One numbered source: title, where, a link to the document, and the passage with the
    supporting sentences marked (folded, to keep the answer readable). With ``anchor`` the
    card has the id the answer's ``[n]`` markers link to."""
    url = document_url(citation.source, citation.page, citation.chunk_id)
    where = location(citation.page, citation.section, citation.ambito)
    open_label = (texts.text("answer.open_document_page", page=citation.page)
                  if citation.page and citation.source.lower().endswith(".pdf")
                  else texts.text("answer.open_document"))
    card_id = (f' id="{source_id(anchor, citation.id)}" tabindex="-1"' if anchor else "")
    return (
        f'<div class="fonte"{card_id} data-source="{esc(citation.source)}">'
        f'<div class="fonte-testa"><span class="fonte-num">{int(citation.id)}</span>'
        f'<span class="fonte-titolo">{esc(citation.title)}</span></div>'
        f'<div class="fonte-dove">{esc(where)}{" · " if where else ""}'
        f"{link(url, open_label)}</div>"
        f'<details class="fonte-passaggio"><summary>{esc(texts.text("answer.full_passage"))}'
        f'</summary><div class="passaggio">{highlight(citation.text, citation.highlights)}'
        f"</div></details>"
        f"</div>")


def sources_html(citations: Sequence[Citation], anchor: str | None = None) -> str:
    if not citations:
        return ""
    cards = "".join(source_html(c, anchor) for c in citations)
    return (f'<div class="fonti"><div class="fonti-titolo">{esc(texts.text("answer.sources"))}'
            f"</div>{cards}</div>")


def answer_html(answer: Answer, acronyms: AcronymTable | None = None,
                anchor: str | None = None) -> str:
    """The chat message for a finished answer; ``anchor`` (unique per message) links the
    ``[n]`` markers to the source cards."""
    parts = [notice_html(answer.notice), body_html(answer_lines(answer.answer), answer.refused,
                                                   anchor if answer.citations else None)]
    if not answer.refused:
        parts.append(searched_html(searched_terms(answer)))
    parts.append(glossary_html(glossary_terms(answer, acronyms)))
    parts.append(sources_html(answer.citations, anchor))
    return ('<div class="messaggio" aria-busy="false">' + "".join(p for p in parts if p)
            + "</div>")


def partial_html(text: str) -> str:
    """The message while the answer is being written (the text so far, no sources yet)."""
    writing = esc(texts.text("chat.writing"))
    return (f'<div class="messaggio" aria-busy="true">{body_html(answer_lines(text))}'
            f'<p class="attesa">{writing}</p></div>')


def status_html(text: str, kind: str = "info") -> str:
    return f'<div class="stato stato-{esc(kind)}">{esc(text)}</div>'


def thinking_html() -> str:
    return (f'<div class="messaggio" aria-busy="true">'
            f'<p class="attesa">{esc(texts.text("chat.thinking"))}</p></div>')


def error_html(text: str) -> str:
    return f'<div class="messaggio"><div class="risposta rifiuto"><p>{esc(text)}</p></div></div>'


# ---- "Servizi per me" --------------------------------------------------------------------
def services_html(notice: str | None, results: Sequence[SituationResult],
                  contact: bool = True) -> str:
    """Per situation, the interventions found (one line each) with their source link."""
    blocks = [notice_html(notice)]
    for result in results:
        if result.items:
            rows = "".join(
                f'<li><span class="servizio">{esc(item.text)}</span>'
                + (f' <span class="servizio-area">{esc(item.area)}</span>' if item.area else "")
                + f' <span class="servizio-fonte">'
                f'{link(item.url, one_line(item.source_label, 44), title=item.source_label)}'
                f"</span></li>"
                for item in result.items)
            count = texts.text("services.count", count=len(result.items))
            body = f'<div class="conteggio">{esc(count)}</div><ul class="servizi">{rows}</ul>'
        else:
            body = f'<p class="vuoto">{esc(texts.text("services.none_found"))}</p>'
        blocks.append(f'<section class="situazione"><h2>{esc(result.label)}</h2>{body}</section>')
    if contact and results:
        blocks.append(f'<p class="contatto">{esc(texts.text("services.contact"))}</p>')
    return '<div class="servizi-per-me">' + "".join(b for b in blocks if b) + "</div>"


# ---- the document page -------------------------------------------------------------------
def document_page(title: str, details: str, text: str, passage: tuple[int, int] | None,
                  passage_wanted: bool, home_url: str = "../") -> str:
    """A whole text document, escaped, with the cited passage marked and anchored."""
    if passage:
        start, end = passage
        body = (esc(text[:start]) + f'<mark id="{PASSAGE_ANCHOR}" class="passaggio">'
                + esc(text[start:end]) + "</mark>" + esc(text[end:]))
        note = texts.text("document_page.passage_note")
    else:
        body = esc(text)
        note = texts.text("document_page.passage_missing") if passage_wanted else ""
    return (
        "<!DOCTYPE html><html lang=\"it\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{_PAGE_CSS}</style></head><body>"
        f'<header><a href="{esc(home_url)}">{esc(texts.text("document_page.back"))}</a>'
        f"<h1>{esc(title)}</h1>"
        + (f'<p class="dettagli">{esc(details)}</p>' if details else "")
        + (f'<p class="nota">{esc(note)}</p>' if note else "")
        + f'</header><main><div class="testo">{body}</div></main></body></html>')


def not_found_page() -> str:
    msg = esc(texts.text("document_page.not_found"))
    return (f"<!DOCTYPE html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>{msg}</title>"
            f"<style>{_PAGE_CSS}</style></head><body><main><p>{msg}</p></main></body></html>")


_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f7f7f8;color:#1f2328}"
    "header{background:#fff;border-bottom:1px solid #ddd;padding:1rem 1.5rem}"
    "header h1{font-size:1.3rem;margin:.5rem 0}"
    ".dettagli,.nota{color:#555;margin:.2rem 0}"
    "main{max-width:60rem;margin:1rem auto;padding:0 1.5rem}"
    ".testo{white-space:pre-wrap;line-height:1.55;background:#fff;padding:1.5rem;"
    "border:1px solid #ddd;border-radius:8px}"
    "mark.passaggio{background:#fff2a8;scroll-margin-top:4rem;padding:.1rem 0}"
)


# ---- documents tab -----------------------------------------------------------------------
def upload_summary_html(saved: Sequence[tuple[str, bool]], refused: Sequence[tuple[str, str]],
                        summary: str | None, skipped: Sequence[tuple[str, str]]) -> str:
    """What happened to an upload: files saved, refused (why), the ingest summary and the
    files the ingestion skipped (why)."""
    parts: list[str] = []
    if not saved and not refused:
        parts.append(f"<p>{esc(texts.text('documents.nothing_uploaded'))}</p>")
    if saved:
        items = "".join(
            f"<li>{esc(name)}" + (f" ({esc(texts.text('documents.replaced'))})" if replaced
                                  else "") + "</li>" for name, replaced in saved)
        parts.append(f"<p>{esc(texts.text('documents.saved'))}</p><ul>{items}</ul>")
    if refused:
        items = "".join(f"<li><b>{esc(name)}</b>: {esc(reason)}</li>" for name, reason in refused)
        parts.append(f'<p class="errore">{esc(texts.text("documents.refused"))}</p>'
                     f"<ul>{items}</ul>")
    if summary:
        parts.append(f'<p class="riepilogo">{esc(summary)}</p>')
    if skipped:
        items = "".join(f"<li><b>{esc(name)}</b>: {esc(reason)}</li>" for name, reason in skipped)
        parts.append(f"<p>{esc(texts.text('documents.skipped'))}</p><ul>{items}</ul>")
    return '<div class="caricamento">' + "".join(parts) + "</div>"
