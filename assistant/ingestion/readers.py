"""Readers: a file in, its text out, page by page (PDF) or as one page (text, Markdown, HTML).

Each reader raises :class:`DocumentError` with a ``reason`` key when the file cannot be used;
callers skip that file and go on with the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..errors import DocumentError

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Page:
    """The text of one page; ``number`` is 1-based for PDFs and ``None`` for other formats."""

    text: str
    number: int | None = None


def read_pages(path: Path, data: bytes | None = None) -> list[Page]:
    """Read a supported file; ``data`` may hold its bytes already."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError("unsupported", suffix=suffix or "(nessuna)")
    if data is None:
        data = path.read_bytes()
    if not data.strip():
        raise DocumentError("empty")
    if suffix == ".pdf":
        return read_pdf(data)
    text = decode_text(data)
    if suffix in (".html", ".htm"):
        text = html_to_text(text)
    elif suffix in (".md", ".markdown"):
        text = text  # headings already marked with '#'
    if not text.strip():
        raise DocumentError("no_text")
    return [Page(text=text, number=None)]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252/Latin-1; binary data is refused."""
    sample = data[:8192]
    if b"\x00" in sample:
        if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        raise DocumentError("binary")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if controls > len(sample) * 0.05:
        raise DocumentError("binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_pdf(data: bytes) -> list[Page]:
    """Text of each page with pypdf; encrypted PDFs open only with an empty password."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise DocumentError("encrypted")
            except DocumentError:
                raise
            except Exception as exc:
                raise DocumentError("encrypted", str(exc)) from exc
        pages = []
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception:  # one bad page does not sink the document
                text = ""
            pages.append(Page(text=text, number=number))
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError,
            IndexError, AttributeError, RecursionError) as exc:
        raise DocumentError("corrupt_pdf", str(exc)) from exc
    if not pages:
        raise DocumentError("corrupt_pdf", "no pages")
    if not any(p.text.strip() for p in pages):
        raise DocumentError("needs_ocr", pages=len(pages))
    return pages


_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article",
               "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
               "dd", "dt", "td", "th", "main", "nav", "aside", "form"}
_DROP_TAGS = {"script", "style", "iframe", "noscript", "template", "svg", "object", "embed",
              "head", "nav", "form", "button", "select"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._drop = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _DROP_TAGS:
            self._drop += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
            if re.fullmatch(r"h[1-6]", tag) and not self._drop:
                self.parts.append("#" * int(tag[1]) + " ")
            elif tag == "li" and not self._drop:
                self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self._drop = max(0, self._drop - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._drop:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page; scripts, styles, iframes and forms are dropped;
    headings become Markdown ``#`` lines and list items ``- `` lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    out = "\n".join(lines)
    out = re.sub(r"^(#+|-) *$", "", out, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", out).strip()
