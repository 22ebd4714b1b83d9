"""Ingestion: a corpus folder in, an up-to-date index out, file by file.

Only new or changed files are parsed and embedded; chunks of deleted files are removed;
a file that cannot be read is reported and skipped while everything else goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from ..config import Settings
from ..embedding import Embedder
from ..errors import DocumentError
from ..store import ChunkStore, node_metadata
from .catalog import CATALOG_NAME, Catalog
from .chunking import Chunk, Chunker, ChunkStream
from .cleaning import document_date
from .ocr import OCR, default_ocr
from .readers import SUPPORTED_SUFFIXES, Page, read_pages

MANIFEST_NAME = "manifest.json"
STORE_BATCH = 256  # chunks per store add while a long document is still being embedded
Progress = Callable[[int, int, str], None]
log = logging.getLogger(__name__)
_DEFAULT = object()


@dataclass
class Skipped:
    """A file left out of this run: ``reason`` is a key of ``skip_reasons`` in
    strings_it.yaml, ``facts`` the values its message needs (``messages.skip_reason(
    s.reason, s.detail, **s.facts)``); ``kept`` says the version indexed earlier stays."""

    source: str
    reason: str
    detail: str = ""
    facts: dict = field(default_factory=dict)
    kept: bool = False


@dataclass
class IngestReport:
    files_indexed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    pages: int = 0
    pages_ocr: int = 0
    repaired: int = 0  # sources fixed up after an interrupted run
    chunks_added: int = 0
    chunks_total: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def as_dict(self) -> dict:
        return {
            "files_indexed": self.files_indexed, "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed, "pages": self.pages,
            "pages_ocr": self.pages_ocr, "repaired": self.repaired,
            "chunks_added": self.chunks_added, "chunks_total": self.chunks_total,
            "skipped": [s.__dict__ for s in self.skipped], "seconds": round(self.seconds, 2),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }


def discover(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """Files to ingest, and the ones refused up front (unsupported, links outside)."""
    root = corpus_dir.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []
    for dirpath, dirnames, filenames in os.walk(corpus_dir, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in dirnames:  # not followed; say so when they lead out of the corpus
            link = Path(dirpath) / name
            if link.is_symlink() and not _inside(link, root):
                skipped.append(Skipped(link.relative_to(corpus_dir).as_posix(),
                                       "outside_link"))
        for name in sorted(filenames):
            if name.startswith(".") or name == CATALOG_NAME or name.lower() == "readme.md" \
                    and Path(dirpath).resolve() == root:
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(corpus_dir).as_posix()
            if path.is_symlink() and not _inside(path, root):
                skipped.append(Skipped(rel, "outside_link"))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                suffix = path.suffix or "(nessuna)"
                skipped.append(Skipped(rel, "unsupported", suffix, {"suffix": suffix}))
            elif path.is_symlink() and not path.exists():
                skipped.append(Skipped(rel, "broken_link"))
            else:
                files.append(path)
    return files, skipped


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop
        return False


class Ingestor:
    """Brings the store up to date with a corpus folder."""

    def __init__(self, settings: Settings, store: ChunkStore, embedder: Embedder,
                 chunker: Chunker | None = None, ocr: OCR | None | object = _DEFAULT) -> None:
        """``ocr`` reads scanned PDFs: by default Tesseract when installed and
        ``settings.ocr`` is on; ``None`` switches it off (scans are reported)."""
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = chunker or Chunker(settings.chunk_size, settings.chunk_overlap)
        if ocr is _DEFAULT:
            ocr = default_ocr(bool(getattr(settings, "ocr", True)))
        self.ocr: OCR | None = ocr  # type: ignore[assignment]
        self.manifest = store.manifest(Path(settings.index_dir) / MANIFEST_NAME)

    @property
    def signature(self) -> str:
        return f"{self.embedder.name}|{self.chunker.signature}"

    def run(self, corpus_dir: Path | None = None, progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        corpus_dir = Path(corpus_dir or self.settings.corpus_dir)
        report = IngestReport()
        if not corpus_dir.is_dir():
            raise DocumentError("no_corpus", str(corpus_dir), path=str(corpus_dir))
        catalog = Catalog.load(corpus_dir)
        if self.manifest.signature != self.signature:
            if self.manifest.files or self.store.count():
                self.store.reset()  # another embedder or chunker: rebuild from scratch
            self.manifest.files = {}
            self.manifest.signature = self.signature
            self.manifest.save()
        report.repaired = self.repair()
        files, report.skipped = discover(corpus_dir)
        present = {p.relative_to(corpus_dir).as_posix() for p in files}
        for source in sorted(set(self.manifest.files) - present):
            self.store.delete_source(source)
            del self.manifest.files[source]
            self.manifest.save()
            report.files_removed += 1
        seen_hashes: dict[str, str] = {}
        limit = int(self.settings.max_file_mb * 1024 * 1024)
        for index, path in enumerate(files):
            source = path.relative_to(corpus_dir).as_posix()
            if progress:
                progress(index, len(files), source)
            try:
                self._ingest_file(path, source, catalog, limit, seen_hashes, report)
            except DocumentError as exc:
                detail = exc.detail if exc.detail != exc.reason else ""
                facts = {k: v for k, v in exc.facts.items()
                         if isinstance(v, (str, int, float, bool))}
                indexed = source in self.manifest.files
                if exc.reason == "duplicate" and indexed:
                    # the same text is indexed under another name now: keep one copy
                    self._forget(source)
                    indexed = False
                report.skipped.append(Skipped(source, exc.reason, detail, facts, kept=indexed))
                if not indexed:
                    self.store.delete_source(source)
        if progress:
            progress(len(files), len(files), "")
        report.chunks_total = self.store.count()
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, path: Path, source: str, catalog: Catalog, limit: int,
                     seen_hashes: dict[str, str], report: IngestReport) -> None:
        t0 = time.perf_counter()
        try:
            size = path.stat().st_size
            if size > limit:
                raise DocumentError("too_large", f"{size / 1048576:.1f} MB, limite "
                                    f"{self.settings.max_file_mb:g} MB",
                                    limit_mb=self.settings.max_file_mb)
            data = path.read_bytes()
        except OSError as exc:  # permissions, a file removed meanwhile, a broken link
            raise DocumentError("unreadable", exc.strerror or str(exc)) from exc
        info = catalog.info(source)
        digest = hashlib.sha256(data).hexdigest()
        file_hash = hashlib.sha256(
            (digest + json.dumps(info.as_dict(), sort_keys=True, default=str)).encode()
        ).hexdigest()
        if digest in seen_hashes:
            raise DocumentError("duplicate", seen_hashes[digest])
        seen_hashes[digest] = source
        known = self.manifest.files.get(source)
        if known and known.get("hash") == file_hash:
            report.files_unchanged += 1
            report.pages += int(known.get("pages", 0))
            return
        is_pdf = path.suffix.lower() == ".pdf"
        stream = _EmbedStream(self.embedder, self.chunker, source, is_pdf, info.title)
        try:
            try:
                pages = read_pages(path, data, ocr=self.ocr,
                                   on_page=stream.page if is_pdf else None)
                # chunked as the pages were read; again here if OCR replaced some pages
                chunks = stream.finish(pages)
            except DocumentError:
                raise
            except Exception as exc:  # a bug or an odd file must not stop the whole corpus
                log.exception("cannot ingest %s", source)
                raise DocumentError("unreadable",
                                    f"{type(exc).__name__}: {exc}"[:200]) from exc
            t2 = time.perf_counter()
            report.add_time("parse", t2 - t0 - stream.chunk_seconds - stream.embed_seconds)
            report.add_time("clean_chunk", stream.chunk_seconds)
            if not chunks:
                raise DocumentError("no_text")
            meta = info.as_metadata()
            date = document_date(pages[0].text) if pages else None
            if date:  # the dateline at the document's top ("Lunedì, 29 Aprile 2024")
                meta["date"] = date
            nodes = [self._node(chunk, meta) for chunk in chunks]
            parts = stream.parts()
            t3 = time.perf_counter()
            parts[0][2].result()  # an embedder that fails does so before the old version goes
            embed_s = stream.embed_seconds + time.perf_counter() - t3
            # forget the old version first: a crash between here and save() leaves the file
            # out of the manifest, so the next run indexes it again from scratch
            self.manifest.files.pop(source, None)
            self.manifest.save()
            self.store.delete_source(source)
            store_s = 0.0
            # store the parts as their vectors come, while the rest is embedded, in adds
            # of at least STORE_BATCH chunks (Chroma's cost per add call is not small)
            ready: list[np.ndarray] = []
            first = 0
            for index, (start, end, pending) in enumerate(parts):
                t3 = time.perf_counter()
                ready.append(pending.result())
                t4 = time.perf_counter()
                embed_s += t4 - t3
                if end - first >= STORE_BATCH or index == len(parts) - 1:
                    self.store.add(nodes[first:end], np.concatenate(ready))
                    ready, first = [], end
                    store_s += time.perf_counter() - t4
        except BaseException:
            stream.cancel()
            raise
        t5 = time.perf_counter()
        self.manifest.files[source] = {"hash": file_hash, "pages": len(pages),
                                       "chunks": len(chunks), "title": info.title,
                                       "indexed_at": time.time()}
        self.manifest.save()
        report.add_time("embed", embed_s)
        report.add_time("store", store_s + time.perf_counter() - t5)
        report.files_indexed += 1
        report.pages += len(pages)
        report.pages_ocr += sum(1 for p in pages if p.ocr)
        report.chunks_added += len(chunks)

    def _forget(self, source: str) -> None:
        """Out of the manifest first, then out of the store (crash-safe order)."""
        self.manifest.files.pop(source, None)
        self.manifest.save()
        self.store.delete_source(source)

    def repair(self) -> int:
        """Make the store agree with the manifest after an interrupted run.

        A run killed while it stored a file leaves chunks the manifest does not list (or,
        while removing one, a manifest entry whose chunks are gone). Cheap check first:
        the store's count against the manifest's chunk total; only when they differ are
        the stored sources listed. Chunks of unlisted sources are deleted; listed sources
        whose chunk count is wrong are dropped from the manifest, so this run indexes them
        again. Returns the number of sources fixed.
        """
        expected = sum(int(v.get("chunks", 0)) for v in self.manifest.files.values())
        if self.store.count() == expected:
            return 0
        stored = self.store.sources()
        fixed = 0
        for source in sorted(set(self.manifest.files) | set(stored)):
            listed = self.manifest.files.get(source)
            if listed is not None and int(listed.get("chunks", 0)) == stored.get(source, 0):
                continue
            log.warning("repairing %s after an interrupted run", source)
            self._forget(source)
            fixed += 1
        return fixed

    @staticmethod
    def _node(chunk: Chunk, info_meta: dict) -> TextNode:
        node = TextNode(
            id_=chunk.id,
            text=chunk.text,
            metadata=node_metadata(info_meta, chunk.source, chunk.page, chunk.section,
                                   chunk.ordinal),
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.source)
        node.excluded_embed_metadata_keys = list(node.metadata)
        node.excluded_llm_metadata_keys = list(node.metadata)
        return node


class _EmbedStream:
    """Chunks a document page by page as it is read and, when the embedder can work in
    the background (``submit_passages``: USE's worker processes), sends every
    ``group`` chunks to it at once, so that a long PDF is embedded while the rest of it
    is parsed. Other embedders (and chunkers that override ``chunk``) get the whole
    document at the end, as before."""

    group = 64

    def __init__(self, embedder: Embedder, chunker: Chunker, source: str, reflow: bool,
                 title: str) -> None:
        self.embedder = embedder
        self.chunker = chunker
        self.source = source
        self.reflow = reflow
        self.title = title
        self.chunk_seconds = 0.0
        self.embed_seconds = 0.0  # spent here submitting, or embedding in this process
        self._submit = getattr(embedder, "submit_passages", None)
        streams = self._submit is not None and type(chunker).chunk is Chunker.chunk
        self._stream: ChunkStream | None = chunker.stream(source, reflow) if streams else None
        self._chunks: list[Chunk] = []
        self._pages: list[Page] = []
        self._parts: list[tuple[int, int, object]] = []
        self._sent = 0
        self._error: BaseException | None = None

    def page(self, page: Page) -> None:
        """Called by the reader with each page as it is extracted."""
        if self._stream is None or self._error is not None:
            return
        try:
            self._pages.append(page)
            t0 = time.perf_counter()
            self._stream.add(page)
            self.chunk_seconds += time.perf_counter() - t0
            self._chunks = self._stream.chunks
            if len(self._chunks) - self._sent >= self.group:
                self._send(len(self._chunks))
        except Exception as exc:  # noqa: BLE001 - raised again by finish(), not as a PDF error
            self._error = exc

    def finish(self, pages: list[Page]) -> list[Chunk]:
        """All the chunks of ``pages`` (the pages the reader returned), the rest sent."""
        if self._error is not None:
            raise self._error
        if self._stream is not None:
            t0 = time.perf_counter()
            self._stream.flush()
            self._chunks = self._stream.chunks
            self.chunk_seconds += time.perf_counter() - t0
        if self._stream is None or len(pages) != len(self._pages) or any(
                a is not b for a, b in zip(pages, self._pages)):
            # not streamed, or not the pages seen while reading (OCR replaced some)
            self.cancel()
            self._parts, self._sent = [], 0
            t0 = time.perf_counter()
            self._chunks = self.chunker.chunk(self.source, pages, reflow=self.reflow)
            self.chunk_seconds += time.perf_counter() - t0
        if self._sent < len(self._chunks):
            self._send(len(self._chunks))
        return self._chunks

    def _send(self, end: int) -> None:
        texts = [c.embed_text(self.title) for c in self._chunks[self._sent:end]]
        t0 = time.perf_counter()
        if self._submit is not None:
            pending = self._submit(texts)
        else:
            pending = _Ready(self.embedder.embed_passages(texts))
        self.embed_seconds += time.perf_counter() - t0
        self._parts.append((self._sent, end, pending))
        self._sent = end

    def parts(self) -> list[tuple[int, int, object]]:
        """(first chunk, end, pending vectors) in order; ``pending.result()`` waits."""
        return list(self._parts)

    def cancel(self) -> None:
        for _start, _end, pending in self._parts:
            cancel = getattr(pending, "cancel", None)
            if cancel is not None:
                cancel()


class _Ready:
    def __init__(self, vectors) -> None:
        self._vectors = vectors

    def result(self):
        return self._vectors
