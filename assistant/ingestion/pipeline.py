"""Ingestion: a corpus folder in, an up-to-date index out, file by file.

Only new or changed files are parsed and embedded; chunks of deleted files are removed;
a file that cannot be read is reported and skipped while everything else goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from ..config import Settings
from ..embedding import Embedder
from ..errors import DocumentError
from ..store import ChunkStore, Manifest, node_metadata
from .catalog import CATALOG_NAME, Catalog
from .chunking import Chunk, Chunker
from .readers import SUPPORTED_SUFFIXES, read_pages

MANIFEST_NAME = "manifest.json"
Progress = Callable[[int, int, str], None]


@dataclass
class Skipped:
    source: str
    reason: str
    detail: str = ""


@dataclass
class IngestReport:
    files_indexed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    pages: int = 0
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
        for name in sorted(filenames):
            if name.startswith(".") or name == CATALOG_NAME or name.lower() == "readme.md" \
                    and Path(dirpath).resolve() == root:
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(corpus_dir).as_posix()
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                skipped.append(Skipped(rel, "outside_link"))
            elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(rel, "unsupported", path.suffix or "(nessuna)"))
            else:
                files.append(path)
    return files, skipped


class Ingestor:
    """Brings the store up to date with a corpus folder."""

    def __init__(self, settings: Settings, store: ChunkStore, embedder: Embedder,
                 chunker: Chunker | None = None) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.chunker = chunker or Chunker(settings.chunk_size, settings.chunk_overlap)
        self.manifest = Manifest(Path(settings.index_dir) / MANIFEST_NAME)

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
                report.skipped.append(Skipped(source, exc.reason, exc.detail
                                              if exc.detail != exc.reason else ""))
                if source in self.manifest.files:  # keep what was indexed before
                    continue
                self.store.delete_source(source)
        if progress:
            progress(len(files), len(files), "")
        report.chunks_total = self.store.count()
        report.seconds = time.perf_counter() - started
        return report

    def _ingest_file(self, path: Path, source: str, catalog: Catalog, limit: int,
                     seen_hashes: dict[str, str], report: IngestReport) -> None:
        t0 = time.perf_counter()
        size = path.stat().st_size
        if size > limit:
            raise DocumentError("too_large", f"{size / 1048576:.1f} MB",
                                limit_mb=self.settings.max_file_mb)
        data = path.read_bytes()
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
        pages = read_pages(path, data)
        t1 = time.perf_counter()
        report.add_time("parse", t1 - t0)
        chunks = self.chunker.chunk(source, pages, reflow=path.suffix.lower() == ".pdf")
        t2 = time.perf_counter()
        report.add_time("clean_chunk", t2 - t1)
        if not chunks:
            raise DocumentError("no_text")
        meta = info.as_metadata()
        nodes = [self._node(chunk, meta) for chunk in chunks]
        vectors = self.embedder.embed_passages([c.embed_text(info.title) for c in chunks])
        t3 = time.perf_counter()
        report.add_time("embed", t3 - t2)
        # forget the old version first: a crash between here and save() leaves the file
        # out of the manifest, so the next run indexes it again from scratch
        self.manifest.files.pop(source, None)
        self.manifest.save()
        self.store.delete_source(source)
        self.store.add(nodes, vectors)
        self.manifest.files[source] = {"hash": file_hash, "pages": len(pages),
                                       "chunks": len(chunks), "title": info.title,
                                       "indexed_at": time.time()}
        self.manifest.save()
        report.add_time("store", time.perf_counter() - t3)
        report.files_indexed += 1
        report.pages += len(pages)
        report.chunks_added += len(chunks)

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
