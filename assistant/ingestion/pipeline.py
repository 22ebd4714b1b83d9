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
from typing import Any, Callable

import numpy as np

from ..chunk import Chunk
from ..config import Settings
from ..embedding import Embedder
from ..errors import AssistantError, DocumentError
from ..store import ChunkStore, is_disk_full, store_failure
from .boilerplate import CENSUS_NAME, LineCensus
from .catalog import CATALOG_NAME, Catalog, DocumentInfo
from .chunking import Chunker, ChunkStream
from .cleaning import document_date
from .ocr import OCR, default_ocr
from .readers import SUPPORTED_SUFFIXES, Page, read_pages
from .timing import StageTimes

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
    facts: dict[str, Any] = field(default_factory=dict)
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

    def as_dict(self) -> dict[str, Any]:
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
                 chunker: Chunker | None = None, ocr: OCR | None | object = _DEFAULT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``ocr`` reads scanned PDFs: by default Tesseract when installed and
        ``settings.ocr`` is on; ``None`` switches it off (scans are reported). ``clock``
        measures each file's time budget (``settings.file_seconds``)."""
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = chunker or Chunker(settings.chunk_size, settings.chunk_overlap)
        if ocr is _DEFAULT:
            ocr = default_ocr(bool(getattr(settings, "ocr", True)))
        self.ocr: OCR | None = ocr  # type: ignore[assignment]
        self.clock = clock
        self.manifest = store.manifest(Path(settings.index_dir) / MANIFEST_NAME)
        self.census = LineCensus({})  # corpus boilerplate, counted at the start of a run

    @property
    def signature(self) -> str:
        return f"{self.embedder.name}|{self.chunker.signature}"

    def run(self, corpus_dir: Path | None = None, progress: Progress | None = None,
            publish: Callable[[], None] | None = None) -> IngestReport:
        """Bring the store up to date with ``corpus_dir``.

        Every document stays answerable in its last version until the run ends: a changed
        file's new chunks are written next to the old ones (its manifest entry lists the
        old ones as ``retired``), a deleted file keeps its chunks until the end. Then
        ``publish`` is called (the assistant switches its searches to the new state), and
        only after it are the retired chunks and those of deleted files removed.

        A store that stops answering or a full disk stops the run with
        :class:`StoreUnavailableError` / :class:`DiskFullError`; what was indexed before
        stays as it was.
        """
        try:
            return self._run(corpus_dir, progress, publish)
        except AssistantError:
            raise
        except Exception as exc:
            failure = _run_failure(exc, self.settings)
            if failure is None:
                raise
            log.info("ingest stopped: %s", exc)
            raise failure from exc

    def _run(self, corpus_dir: Path | None, progress: Progress | None,
             publish: Callable[[], None] | None) -> IngestReport:
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
        self.purge()  # what an interrupted run retired and did not delete yet
        report.repaired = self.repair()
        files, report.skipped = discover(corpus_dir)
        present = {p.relative_to(corpus_dir).as_posix() for p in files}
        gone = sorted(set(self.manifest.files) - present)
        seen_hashes: dict[str, str] = {}
        limit = int(self.settings.max_file_mb * 1024 * 1024)
        self.census = LineCensus.build(corpus_dir, files,
                                       Path(self.settings.index_dir) / CENSUS_NAME, limit)
        for index, path in enumerate(files):
            source = path.relative_to(corpus_dir).as_posix()
            if progress:
                progress(index, len(files), source)
            try:
                self._ingest_file(path, source, catalog, limit, seen_hashes, report)
            except DocumentError as exc:
                self._skip(source, exc, report)
        if progress:
            progress(len(files), len(files), "")
        # deleted files leave the manifest now and the store after the switch
        for source in gone:
            del self.manifest.files[source]
        if gone:
            self.manifest.save()
        report.files_removed = len(gone)
        if publish is not None:
            publish()
        self.purge(gone)
        report.chunks_total = self.store.count()
        report.seconds = time.perf_counter() - started
        return report

    def _skip(self, source: str, exc: DocumentError, report: IngestReport) -> None:
        detail = exc.detail if exc.detail != exc.reason else ""
        facts = {k: v for k, v in exc.facts.items() if isinstance(v, (str, int, float, bool))}
        indexed = source in self.manifest.files
        if exc.reason == "duplicate" and indexed:
            # the same text is indexed under another name now: keep one copy
            self._forget(source)
            indexed = False
        report.skipped.append(Skipped(source, exc.reason, detail, facts, kept=indexed))
        if not indexed:
            self.store.delete_source(source)

    def purge(self, sources: list[str] | tuple[str, ...] = ()) -> int:
        """Delete the chunks the manifest lists as ``retired`` (old versions of changed
        documents) and every chunk of ``sources`` (documents no longer in the corpus);
        returns how many retired chunks went. Called after the switch to the new state."""
        for source in sources:
            self.store.delete_source(source)
        retired = {source: entry["retired"] for source, entry in self.manifest.files.items()
                   if entry.get("retired")}
        if not retired:
            return 0
        self.store.delete_ids([cid for ids in retired.values() for cid in ids])
        for source in retired:
            self.manifest.files[source].pop("retired", None)
        self.manifest.save()
        return sum(len(ids) for ids in retired.values())

    def _ingest_file(self, path: Path, source: str, catalog: Catalog, limit: int,
                     seen_hashes: dict[str, str], report: IngestReport) -> None:
        """Index one file unless the manifest has it unchanged: read, chunk and embed it
        (the embedding streamed while it is read), store the new version beside the old
        one, then let the manifest take it. Raises ``DocumentError`` for a file to skip
        (its earlier version, if any, stays indexed)."""
        times = StageTimes()
        budget = FileBudget(self.settings.file_seconds, self.clock)
        with times.stage("parse"):
            data = self._file_bytes(path, limit)
            info = catalog.info(source)
            file_hash = self._file_hash(source, data, info, seen_hashes)
        known = self.manifest.files.get(source)
        if known and known.get("hash") == file_hash:
            report.files_unchanged += 1
            report.pages += int(known.get("pages", 0))
            return
        stream = _EmbedStream(self.embedder, self.chunker, source,
                              path.suffix.lower() == ".pdf", info.title, budget.check, times)
        try:
            with times.stage("parse"):
                pages, chunks = self._read(path, data, stream, budget)
            document = _document_metadata(info, pages)
            chunks = [chunk.with_document(document) for chunk in chunks]
            old_ids = set(self.store.source_ids(source)) if known else set()
            self._store_parts(source, chunks, stream, budget, old_ids, times)
        except BaseException:
            stream.cancel()
            raise
        with times.stage("store"):
            self._take_version(source, file_hash, info, pages, chunks, old_ids)
        for stage, seconds in times.seconds.items():
            report.add_time(stage, seconds)
        report.files_indexed += 1
        report.pages += len(pages)
        report.pages_ocr += sum(1 for p in pages if p.ocr)
        report.chunks_added += len(chunks)

    def _file_bytes(self, path: Path, limit: int) -> bytes:
        """The file's content; ``DocumentError`` when it is over ``limit`` bytes or cannot
        be read (permissions, removed meanwhile, a broken link)."""
        try:
            size = path.stat().st_size
            if size > limit:
                raise DocumentError("too_large", f"{size / 1048576:.1f} MB, limite "
                                    f"{self.settings.max_file_mb:g} MB",
                                    limit_mb=self.settings.max_file_mb)
            return path.read_bytes()
        except OSError as exc:
            raise DocumentError("unreadable", exc.strerror or str(exc)) from exc

    def _file_hash(self, source: str, data: bytes, info: DocumentInfo,
                   seen_hashes: dict[str, str]) -> str:
        """What the manifest keeps to tell a changed file: a hash of its bytes, its
        catalogue entry and its boilerplate lines (a change to any re-indexes it).
        ``DocumentError("duplicate")`` when this run met the same bytes under another
        name (``seen_hashes``: content hash -> source, filled here)."""
        digest = hashlib.sha256(data).hexdigest()
        file_hash = hashlib.sha256(
            (digest + json.dumps(info.as_dict(), sort_keys=True, default=str)
             + self.census.fingerprint(source)).encode()
        ).hexdigest()
        if digest in seen_hashes:
            raise DocumentError("duplicate", seen_hashes[digest])
        seen_hashes[digest] = source
        return file_hash

    def _take_version(self, source: str, file_hash: str, info: DocumentInfo,
                      pages: list[Page], chunks: list[Chunk], old_ids: set[str]) -> None:
        """The new version of ``source`` is stored: the manifest takes it, and the old
        chunks it no longer has are retired (still served until the switch, deleted
        after it by :meth:`purge`)."""
        retired = sorted(old_ids.difference(c.id for c in chunks))
        entry: dict[str, Any] = {"hash": file_hash, "pages": len(pages),
                                 "chunks": len(chunks), "title": info.title,
                                 "indexed_at": time.time()}
        if retired:
            entry["retired"] = retired
        self.manifest.files[source] = entry
        self.manifest.save()

    def _read(self, path: Path, data: bytes, stream: "_EmbedStream",
              budget: "FileBudget") -> tuple[list[Page], list[Chunk]]:
        """The file's pages and chunks (the first chunks already sent to the embedder)."""
        is_pdf = stream.reflow
        try:
            pages = read_pages(path, data, ocr=self.ocr,
                               on_page=stream.page if is_pdf else None,
                               check=budget.check, max_pages=self.settings.max_pdf_pages)
            chars = sum(len(p.text) for p in pages)
            if chars > self.settings.max_text_mb * 1_000_000:
                raise DocumentError("too_much_text", f"{chars / 1e6:.1f} milioni di "
                                    f"caratteri, limite {self.settings.max_text_mb:g}")
            budget.check()
            pages = self.census.strip(stream.source, pages)  # corpus boilerplate out
            # chunked as the pages were read; again here if OCR replaced some pages
            chunks = stream.finish(pages)
        except DocumentError:
            raise
        except MemoryError as exc:
            raise DocumentError("too_much_text", "memoria insufficiente") from exc
        except Exception as exc:  # a bug or an odd file must not stop the whole corpus
            if _run_failure(exc, self.settings) is not None:
                raise  # a full disk or a lost store stops the run, not just this file
            log.exception("cannot ingest %s", path.name)
            raise DocumentError("unreadable", f"{type(exc).__name__}: {exc}"[:200]) from exc
        if not chunks:
            raise DocumentError("no_text")
        return pages, chunks

    def _store_parts(self, source: str, chunks: list[Chunk], stream: "_EmbedStream",
                     budget: "FileBudget", old_ids: set[str], times: StageTimes) -> None:
        """Store the parts as their vectors come, while the rest is embedded, in adds of
        at least STORE_BATCH chunks (Chroma's cost per add call is not small). The old
        version stays in the store; when this fails midway, the chunks written that the
        old version does not have are taken out again."""
        parts = stream.parts()
        ready: list[np.ndarray] = []
        first = 0
        written: list[str] = []
        try:
            for index, (_start, end, pending) in enumerate(parts):
                with times.stage("embed"):
                    ready.append(pending.result())
                budget.check()
                if end - first >= STORE_BATCH or index == len(parts) - 1:
                    with times.stage("store"):
                        written.extend(c.id for c in chunks[first:end])
                        self.store.add(chunks[first:end], np.concatenate(ready))
                    ready, first = [], end
        except BaseException:
            extra = [cid for cid in written if cid not in old_ids]
            try:
                if extra:
                    self.store.delete_ids(extra)
            except Exception as exc:  # noqa: BLE001 - the store is gone: repair() next run
                log.warning("could not remove the partial new version of %s: %s",
                            source, exc)
            raise

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


class FileBudget:
    """The time one file may take (reading, OCR, chunking, embedding, storing): ``check``
    raises ``DocumentError("too_slow")`` once ``seconds`` have passed on ``clock``, so the
    file is skipped (its previous version kept) and the ingest goes on."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not seconds or seconds <= 0:
            raise ValueError(f"seconds must be positive, got {seconds!r}")
        self.seconds = float(seconds)
        self._clock = clock
        self._started = clock()

    def check(self) -> None:
        if self._clock() - self._started > self.seconds:
            raise DocumentError("too_slow", f"{self.seconds:g} s", seconds=self.seconds)


def _document_metadata(info: DocumentInfo, pages: list[Page]) -> dict[str, Any]:
    """What every chunk of a document carries: its catalogue fields, and the dateline at
    its top ("Lunedì, 29 Aprile 2024") when it has one."""
    meta: dict[str, Any] = dict(info.as_metadata())
    date = document_date(pages[0].text) if pages else None
    if date:
        meta["date"] = date
    return meta


def _run_failure(exc: BaseException, settings: Settings) -> AssistantError | None:
    """A failure that must stop the whole run, as the assistant's error: a full disk, or
    for a Chroma server a lost connection. None for anything else (a bug)."""
    if is_disk_full(exc):
        return store_failure(exc, settings)
    if settings.store == "http" and _connection_trouble(exc):
        return store_failure(exc, settings)
    return None


def _connection_trouble(exc: BaseException) -> bool:
    try:
        import httpx
        from chromadb.errors import ChromaError
    except ImportError:  # pragma: no cover - both come with chromadb
        return isinstance(exc, ConnectionError)
    return isinstance(exc, (httpx.HTTPError, ChromaError, ConnectionError, TimeoutError))


class _EmbedStream:
    """Chunks a document page by page as it is read and, when the embedder can work in
    the background (``submit_passages``: USE's worker processes), sends every
    ``group`` chunks to it at once, so that a long PDF is embedded while the rest of it
    is parsed. Other embedders (and chunkers that override ``chunk``) get the whole
    document at the end, as before."""

    group = 64
    part = 1024  # most chunks embedded in one call

    def __init__(self, embedder: Embedder, chunker: Chunker, source: str, reflow: bool,
                 title: str, check: Callable[[], None] | None = None,
                 times: StageTimes | None = None) -> None:
        self.check = check or (lambda: None)  # the file's time budget, between groups
        self.times = times if times is not None else StageTimes()  # chunking, embedding
        self.embedder = embedder
        self.chunker = chunker
        self.source = source
        self.reflow = reflow
        self.title = title
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
            with self.times.stage("clean_chunk"):
                self._stream.add(page)
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
            with self.times.stage("clean_chunk"):
                self._stream.flush()
                self._chunks = self._stream.chunks
        if self._stream is None or len(pages) != len(self._pages) or any(
                a is not b for a, b in zip(pages, self._pages)):
            # not streamed, or not the pages seen while reading (OCR replaced some)
            self.cancel()
            self._parts, self._sent = [], 0
            with self.times.stage("clean_chunk"):
                self._chunks = self.chunker.chunk(self.source, pages, reflow=self.reflow)
        if self._sent < len(self._chunks):
            self._send(len(self._chunks))
        return self._chunks

    def _send(self, end: int) -> None:
        """Send chunks up to ``end``, at most ``part`` at a time (a huge document is
        embedded in parts, the time budget checked between them)."""
        while self._sent < end:
            stop = min(end, self._sent + self.part)
            texts = [c.embed_text(self.title) for c in self._chunks[self._sent:stop]]
            with self.times.stage("embed"):  # submitting, or embedding in this process
                if self._submit is not None:
                    pending = self._submit(texts)
                else:
                    pending = _Ready(self.embedder.embed_passages(texts))
            self._parts.append((self._sent, stop, pending))
            self._sent = stop
            self.check()

    def parts(self) -> list[tuple[int, int, Any]]:
        """(first chunk, end, pending vectors) in order; ``pending.result()`` waits."""
        return list(self._parts)

    def cancel(self) -> None:
        for _start, _end, pending in self._parts:
            cancel = getattr(pending, "cancel", None)
            if cancel is not None:
                cancel()


class _Ready:
    def __init__(self, vectors: np.ndarray) -> None:
        self._vectors = vectors

    def result(self) -> np.ndarray:
        return self._vectors
