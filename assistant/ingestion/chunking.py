"""Chunking: pages -> sections -> LlamaIndex ``SentenceSplitter`` chunks with stable ids.

Paragraphs and list items stay whole (they are the splitter's paragraphs); each chunk records
the section heading it sits under and its page. Chunks are sized in approximate word pieces
so that they fit the embedding model's input; metadata is never embedded. The chunks are
:class:`assistant.chunk.Chunk`, the type the store keeps and searches return.
"""

from __future__ import annotations

import hashlib
import re

from llama_index.core.node_parser import SentenceSplitter

from ..chunk import Chunk, chunk_metadata
from .cleaning import Block, clean_text, running_lines, split_page, strip_running_lines
from .readers import Page

_PIECES = re.compile(r"\w{1,6}|[^\w\s]")


def count_pieces(text: str) -> list[str]:
    """Approximate word pieces: long words count as several, as subword tokenizers do."""
    return _PIECES.findall(text)


def chunk_id(source: str, ordinal: int, text: str) -> str:
    digest = hashlib.sha256(f"{source}\x1f{ordinal}\x1f{text}".encode("utf-8")).hexdigest()
    return digest[:32]


class Chunker:
    """Splits cleaned pages into chunks of at most ``chunk_size`` approximate word pieces."""

    def __init__(self, chunk_size: int = 180, chunk_overlap: int = 20) -> None:
        if chunk_size < 32:
            raise ValueError(f"chunk_size must be at least 32, got {chunk_size!r}")
        if not 0 <= chunk_overlap < chunk_size:
            raise ValueError(f"chunk_overlap must be in [0, {chunk_size}), got {chunk_overlap!r}")
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            paragraph_separator="\n\n",
            tokenizer=count_pieces,
            include_metadata=False,
            include_prev_next_rel=False,
        )

    @property
    def signature(self) -> str:
        return f"chunker-v9:{self.chunk_size}:{self.chunk_overlap}"

    def chunk(self, source: str, pages: list[Page], reflow: bool = False) -> list[Chunk]:
        stream = self.stream(source, reflow)
        for page in pages:
            stream.add(page)
        stream.flush()
        return stream.chunks

    def stream(self, source: str, reflow: bool = False) -> "ChunkStream":
        """Chunks page by page, as a document's pages are read (ingestion embeds the first
        chunks of a long PDF while it reads the rest); the same chunks as :meth:`chunk`."""
        return ChunkStream(self, source, reflow)


class ChunkStream:
    """The chunks of one document so far; :meth:`add` chunks its next page, :meth:`flush`
    the pages still held when the document ends.

    The first ``LOOKAHEAD`` pages are held until running headers and footers can be told
    apart ("pag. 4 DSD-MUT-01-V01 - Manuale ...": the same line, or the same line but its
    page number, at the top or bottom of most pages); they are kept on the first page that
    has them only.
    """

    LOOKAHEAD = 6

    def __init__(self, chunker: Chunker, source: str, reflow: bool = False) -> None:
        self.chunker = chunker
        self.source = source
        self.reflow = reflow
        self.chunks: list[Chunk] = []
        self._section: str | None = None
        self._held: list[Page] = []
        self._running: frozenset[str] | None = None  # decided after LOOKAHEAD pages
        self._seen_running: set[str] = set()  # kept once, on the first page with them
        self._typeset = False  # headings marked by type (decided with the running lines)

    def add(self, page: Page) -> list[Chunk]:
        """Take the next page; returns the chunks made now (also appended to ``chunks``)."""
        start = len(self.chunks)
        if self._running is None:
            self._held.append(page)
            if len(self._held) >= self.LOOKAHEAD:
                self._release()
        else:
            self._chunk_page(page)
        return self.chunks[start:]

    def flush(self) -> list[Chunk]:
        """Chunk the pages still held (a document shorter than ``LOOKAHEAD`` pages)."""
        start = len(self.chunks)
        if self._running is None:
            self._release()
        return self.chunks[start:]

    def _release(self) -> None:
        self._running = running_lines([p.text for p in self._held],
                                      [p.number for p in self._held])
        held, self._held = self._held, []
        self._typeset = typeset(held)
        for page in held:
            self._chunk_page(page)

    def _chunk_page(self, page: Page) -> None:
        text = clean_text(strip_running_lines(page.text, self._running or frozenset(),
                                              self._seen_running, page.number),
                          printed=self.reflow)
        # a scanned page read by OCR carries no type: its headings are found by the text
        blocks, self._section = split_page(text, section=self._section, reflow=self.reflow,
                                           typeset=self._typeset and not page.ocr)
        for group_section, texts in _group(blocks):
            for piece in self.chunker._splitter.split_text("\n\n".join(texts)):
                piece = piece.strip()
                if not piece:
                    continue
                ordinal = len(self.chunks)
                self.chunks.append(Chunk(chunk_id(self.source, ordinal, piece), piece,
                                         chunk_metadata(self.source, page.number,
                                                        group_section, ordinal)))


TYPESET_HEADINGS = 2  # distinct marked lines that make a document's headings typeset


def typeset(pages: list[Page]) -> bool:
    """Whether the first pages mark their headings by type: at least ``TYPESET_HEADINGS``
    marked lines found on one page only (a marked line on several pages is a running
    header)."""
    found: dict[str, int] = {}
    for page in pages:
        for line in {ln for ln in page.text.split("\n") if ln.startswith("# ")}:
            found[line] = found.get(line, 0) + 1
    return sum(n == 1 for n in found.values()) >= TYPESET_HEADINGS


def _group(blocks: list[Block]) -> list[tuple[str | None, list[str]]]:
    groups: list[tuple[str | None, list[str]]] = []
    for block in blocks:
        if groups and groups[-1][0] == block.section:
            groups[-1][1].append(block.text)
        else:
            groups.append((block.section, [block.text]))
    return groups
