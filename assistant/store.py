"""The chunk store: a Chroma collection behind LlamaIndex's ``ChromaVectorStore``.

Embeddings always come from our embedder; Chroma's default embedding function (which would
download a model) is never used, also when an existing collection is reopened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from llama_index.core.schema import TextNode

from .config import Settings
from .embedding import ChromaEmbeddingFunction, Embedder
from .errors import ConfigError, IndexMissingError

CHROMA_SUBDIR = "chroma"
_META_KEYS = ("source", "title", "page", "section", "doc_type", "ambito", "comuni", "region",
              "province", "year", "ordinal", "url")


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store returns it, with its score for the question (higher is better)."""

    id: str
    text: str
    metadata: dict[str, Any]
    score: float = 0.0

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def page(self) -> int | None:
        page = self.metadata.get("page")
        return int(page) if isinstance(page, (int, float)) and page > 0 else None

    @property
    def section(self) -> str | None:
        return self.metadata.get("section") or None

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.source)


def make_client(settings: Settings, create: bool = True) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if settings.store == "http":
        headers = {}
        if settings.chroma_token:
            headers["Authorization"] = f"Bearer {settings.chroma_token}"
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                   headers=headers, settings=chroma_settings)
    path = Path(settings.index_dir) / CHROMA_SUBDIR
    if not create and not path.exists():
        raise IndexMissingError(str(settings.index_dir), index=str(settings.index_dir))
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class ChunkStore:
    """Add, delete, fetch and search chunks of one collection."""

    def __init__(self, settings: Settings, embedder: Embedder, client: Any = None,
                 create: bool = True) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        if not settings.collection or not settings.collection.replace("_", "").replace(
                "-", "").isalnum():
            raise ConfigError(f"collection name must be alphanumeric, got {settings.collection!r}",
                              setting="collection")
        self.settings = settings
        self.embedder = embedder
        self.client = client if client is not None else make_client(settings, create=create)
        self._ef = ChromaEmbeddingFunction(embedder)
        self.collection = self.client.get_or_create_collection(
            settings.collection,
            embedding_function=self._ef,
            configuration={"hnsw": {"space": "cosine"}},
        )
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)

    # ---- writing -------------------------------------------------------------------------
    def add(self, nodes: list[TextNode], embeddings: np.ndarray) -> None:
        """Store nodes with their precomputed embeddings (in batches Chroma accepts)."""
        for node, vector in zip(nodes, embeddings):
            node.embedding = [float(x) for x in vector]
        if nodes:
            self.vector_store.add(nodes)

    def delete_source(self, source: str) -> None:
        """Remove every chunk of one document (its ``ref_doc_id`` is its source path)."""
        self.vector_store.delete(ref_doc_id=source)

    def reset(self) -> None:
        self.client.delete_collection(self.settings.collection)
        self.collection = self.client.get_or_create_collection(
            self.settings.collection, embedding_function=self._ef,
            configuration={"hnsw": {"space": "cosine"}})
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)

    # ---- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.collection.count())

    def sources(self) -> dict[str, int]:
        """Each stored document with its number of chunks."""
        counts: dict[str, int] = {}
        for chunk in self.iter_chunks(include_text=False):
            counts[chunk.source] = counts.get(chunk.source, 0) + 1
        return counts

    def iter_chunks(self, batch: int = 2000, include_text: bool = True) -> Iterator[StoredChunk]:
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            docs = got.get("documents") or [""] * len(ids)
            for cid, text, meta in zip(ids, docs, got["metadatas"]):
                yield StoredChunk(cid, text or "", _clean_meta(meta))
            offset += len(ids)

    def get(self, ids: Iterable[str]) -> list[StoredChunk]:
        ids = list(ids)
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["metadatas", "documents"])
        by_id = {cid: StoredChunk(cid, text or "", _clean_meta(meta))
                 for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"])}
        return [by_id[i] for i in ids if i in by_id]

    def search(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[StoredChunk]:
        """Nearest chunks by cosine similarity (score = 1 - cosine distance)."""
        n = self.count()
        if n == 0:
            return []
        res = self.collection.query(query_embeddings=[np.asarray(vector).tolist()],
                                    n_results=min(k, n), where=where or None,
                                    include=["metadatas", "documents", "distances"])
        return [StoredChunk(cid, text or "", _clean_meta(meta), 1.0 - float(dist))
                for cid, text, meta, dist in zip(res["ids"][0], res["documents"][0],
                                                 res["metadatas"][0], res["distances"][0])]


def _clean_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    meta = meta or {}
    return {k: meta[k] for k in _META_KEYS if k in meta}


def node_metadata(info_meta: dict[str, Any], source: str, page: int | None,
                  section: str | None, ordinal: int) -> dict[str, Any]:
    meta = dict(info_meta)
    meta.update({"source": source, "page": page or 0, "section": section or "",
                 "ordinal": ordinal})
    return meta


class Manifest:
    """What is indexed: per source file its content hash and chunk count, plus the index's
    signature (embedder and chunker). Written atomically after each file, so a crash leaves
    a manifest that never lists a half-indexed file as complete."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.signature: str | None = None
        self.files: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.signature = data.get("signature")
                self.files = dict(data.get("files", {}))
            except (OSError, ValueError):
                self.signature, self.files = None, {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"signature": self.signature, "files": self.files},
                                  ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def version(self) -> str:
        """Changes whenever any indexed file changes (used to refresh derived indexes)."""
        import hashlib

        blob = json.dumps([self.signature, sorted((k, v.get("hash")) for k, v in
                                                  self.files.items())])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
