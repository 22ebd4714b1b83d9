"""The chunk store: one Chroma collection, written and read directly.

Every write and read goes to the collection itself, with our chunk ids, our metadata
(:data:`METADATA_KEYS`) and embeddings from our embedder; Chroma's default embedding
function (which would download a model) is never used, also when an existing collection is
reopened. LlamaIndex's ``ChromaVectorStore`` is not used: the reads here need exact
filtered search, batches under the client's ``max_batch_size``, searches limited to the
published chunks (:meth:`ChunkStore.show_only`) and a side collection for the manifest,
which it does not offer. LlamaIndex is the retrieval face instead
(:class:`assistant.llamaindex.HybridRetriever`), which turns chunks into ``TextNode`` at
that edge.
"""

from __future__ import annotations

import contextlib
import errno
import json
import string
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from .chunk import Chunk
from .config import Settings
from .embedding import ChromaEmbeddingFunction, Embedder
from .errors import (AssistantError, ConfigError, DiskFullError, IndexMissingError,
                     StoreUnavailableError)

CHROMA_SUBDIR = "chroma"
FALLBACK_BATCH = 1000  # records per write when the client cannot say its own limit
WIDEST_SEARCH = 50  # a search skipping hidden chunks asks for at most k * this neighbours
STATE_PREFIX = "state_"  # keys of the shared state in the collection's metadata
MANIFEST_SUFFIX = "-manifest"  # side collection holding the manifest on a Chroma server
# the metadata fields a chunk carries in the store, in the order reads give them
METADATA_KEYS = ("source", "title", "page", "section", "doc_type", "ambito", "comuni",
                 "region", "province", "year", "ordinal", "url", "date")

StoredChunk = Chunk  # the name retrieval, the answerers and the tests import


def make_client(settings: Settings, create: bool = True) -> Any:
    """The Chroma client the settings ask for: an embedded ``PersistentClient`` under
    ``index_dir/chroma``, or an ``HttpClient`` to a Chroma server (``store = "http"``).

    For a server, ``chroma_host`` may carry a scheme (``https://chroma.example``) to use TLS;
    ``chroma_token`` is sent as ``Authorization: Bearer <token>`` by Chroma's own
    ``TokenAuthClientProvider`` (Chroma 1.x servers check it behind a proxy). The server is
    contacted once here, so a wrong address fails at start with a clear message.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if settings.store == "http":
        return _http_client(settings)
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    path = Path(settings.index_dir) / CHROMA_SUBDIR
    if not create and not path.exists():
        raise IndexMissingError(str(settings.index_dir), index=str(settings.index_dir))
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def http_address(host: str, port: int) -> tuple[str, int, bool]:
    """(host, port, ssl) from ``chroma_host`` (``name``, ``http://name`` or
    ``https://name[:port]``) and ``chroma_port``."""
    from urllib.parse import urlsplit

    raw = (host or "").strip()
    if not raw:
        raise ConfigError("chroma_host is empty", setting="chroma_host")
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"chroma_host must be a host name or http(s)://host, got {host!r}",
                          setting="chroma_host")
    if not 0 < int(port) < 65536:
        raise ConfigError(f"chroma_port must be between 1 and 65535, got {port!r}",
                          setting="chroma_port")
    return parts.hostname, int(parts.port or port), parts.scheme == "https"


_TOKEN_CHARS = frozenset(string.digits + string.ascii_letters + string.punctuation)


def _http_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port, ssl = http_address(settings.chroma_host, settings.chroma_port)
    auth: dict[str, Any] = {}
    if settings.chroma_token:
        token = str(settings.chroma_token)
        if not all(c in _TOKEN_CHARS for c in token):
            raise ConfigError("chroma_token must hold only ASCII letters, digits and "
                              "punctuation", setting="chroma_token")
        auth = {"chroma_client_auth_provider":
                "chromadb.auth.token_authn.TokenAuthClientProvider",
                "chroma_client_auth_credentials": settings.chroma_token}
    try:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=ChromaSettings(
            anonymized_telemetry=False, **auth))
        client.heartbeat()
    except Exception as exc:  # connection refused, DNS, TLS, 401/403 from a proxy
        scheme = "https" if ssl else "http"
        raise ConfigError(f"cannot reach the Chroma server at {scheme}://{host}:{port}: "
                          f"{exc}", setting="chroma_host") from exc
    return client


class ChunkStore:
    """Add, delete, fetch and search chunks of one collection."""

    def __init__(self, settings: Settings, embedder: Embedder, client: Any = None,
                 create: bool = True) -> None:
        if not settings.collection or not settings.collection.replace("_", "").replace(
                "-", "").isalnum():
            raise ConfigError(f"collection name must be alphanumeric, got {settings.collection!r}",
                              setting="collection")
        self.settings = settings
        self.embedder = embedder
        self.client = client if client is not None else make_client(settings, create=create)
        self._ef = ChromaEmbeddingFunction(embedder)
        self._max_batch: int | None = None
        self._visible: frozenset[str] | None = None
        self.collection = self._open_collection()

    def _open_collection(self) -> Any:
        """The collection, created when missing: cosine space, our embedding function, and
        no full-text index on the chunk texts (nothing searches them with
        ``where_document``; it was a quarter of the cost of storing a chunk). An index
        created before keeps its full-text index."""
        from chromadb.errors import NotFoundError

        name = self.settings.collection
        try:
            return self.client.get_collection(name, embedding_function=self._ef)
        except NotFoundError:
            pass
        except ValueError:  # older clients say "does not exist" with a ValueError
            pass
        try:
            from chromadb.api.types import FtsIndexConfig, Schema, VectorIndexConfig

            schema = Schema().create_index(VectorIndexConfig(
                space="cosine", embedding_function=self._ef)).delete_index(
                key="#document", config=FtsIndexConfig())
            self.client.create_collection(name, schema=schema)
            return self.client.get_collection(name, embedding_function=self._ef)
        except Exception:  # noqa: BLE001 - created meanwhile, or a server without schemas
            return self.client.get_or_create_collection(
                name, embedding_function=self._ef, configuration={"hnsw": {"space": "cosine"}})

    # ---- writing -------------------------------------------------------------------------
    @property
    def max_batch_size(self) -> int:
        """The most records Chroma takes in one call (``client.get_max_batch_size()``: 5461
        for the embedded store's SQLite); asked once."""
        if self._max_batch is None:
            try:
                self._max_batch = max(1, int(self.client.get_max_batch_size()))
            except Exception:  # noqa: BLE001 - an old server without the route
                self._max_batch = FALLBACK_BATCH
        return self._max_batch

    def add(self, chunks: list[Chunk], embeddings: np.ndarray) -> None:
        """Store chunks with their precomputed embeddings (row i for chunk i), in batches
        under Chroma's ``max_batch_size``; a chunk whose id is stored already is replaced
        (upsert), so a new version can be written before the old one is removed.

        Raises ``ValueError`` when the counts differ or a chunk carries a metadata key
        outside :data:`METADATA_KEYS` (reads would drop it), naming it."""
        vectors = np.asarray(embeddings, dtype=np.float64)
        if len(vectors) != len(chunks):
            raise ValueError(f"one embedding per chunk expected: {len(chunks)} chunks, "
                             f"{len(vectors)} embeddings")
        metadatas = [_stored_metadata(chunk) for chunk in chunks]
        step = self.max_batch_size
        for start in range(0, len(chunks), step):
            batch = chunks[start:start + step]
            with store_errors(self.settings):
                self.collection.upsert(ids=[c.id for c in batch],
                                       embeddings=vectors[start:start + step],
                                       metadatas=metadatas[start:start + step],
                                       documents=[c.text for c in batch])

    def delete_source(self, source: str) -> None:
        """Remove every chunk of one document (its ``source`` path)."""
        with store_errors(self.settings):
            self.collection.delete(where={"source": source})

    def delete_ids(self, ids: Iterable[str]) -> None:
        """Remove these chunks (ids the store does not hold are ignored)."""
        ids = list(ids)
        step = self.max_batch_size
        for start in range(0, len(ids), step):
            with store_errors(self.settings):
                self.collection.delete(ids=ids[start:start + step])

    def source_ids(self, source: str, batch: int = 5000) -> list[str]:
        """The ids of one document's chunks (no texts, metadata or vectors are read)."""
        out: list[str] = []
        while True:
            got = self.collection.get(where={"source": source}, include=[], limit=batch,
                                      offset=len(out))
            if not got["ids"]:
                return out
            out.extend(got["ids"])

    # ---- what searches see ---------------------------------------------------------------
    def show_only(self, ids: Iterable[str] | None) -> None:
        """Searches return only these chunks (None: every chunk). The assistant sets it to
        the chunks of its last consistent state, so chunks an ingest is writing (a new
        version, not yet published) or has retired (an old one, not yet deleted) are never
        served."""
        self._visible = None if ids is None else frozenset(ids)

    def reset(self) -> None:
        if self.settings.store == "http":
            self._drop_manifest_collection()
        self.client.delete_collection(self.settings.collection)
        self.collection = self._open_collection()

    # ---- shared state (several processes, several machines) ------------------------------
    def get_state(self) -> dict[str, Any]:
        """The index state every process shares, read fresh from the collection's metadata:
        ``version`` (changes whenever any document changes), ``signature`` (embedder and
        chunker), ``updated`` (epoch seconds). Empty for an index written before this."""
        meta = self.client.get_collection(self.settings.collection,
                                          embedding_function=self._ef).metadata or {}
        return {k[len(STATE_PREFIX):]: v for k, v in meta.items()
                if k.startswith(STATE_PREFIX)}

    def set_state(self, **values: str | int | float | bool | None) -> dict[str, Any]:
        """Merge ``values`` into the shared state (``None`` removes a key) and return it.

        One writer at a time (the ingesting process); readers only call :meth:`get_state`.
        Chroma's ``modify`` replaces the whole metadata, so the other keys are carried over.
        """
        import time

        for key, value in values.items():
            if not key.isidentifier() or not (value is None or isinstance(
                    value, (str, int, float, bool))):
                raise ValueError(f"state values must be str, int, float or bool, got "
                                 f"{key}={value!r}")
        current = self.client.get_collection(self.settings.collection,
                                             embedding_function=self._ef)
        meta = {k: v for k, v in (current.metadata or {}).items() if not k.startswith("hnsw:")}
        for key, value in {**values, "updated": time.time()}.items():
            if value is None:
                meta.pop(STATE_PREFIX + key, None)
            else:
                meta[STATE_PREFIX + key] = value
        current.modify(metadata=meta)
        self.collection = current
        return {k[len(STATE_PREFIX):]: v for k, v in meta.items() if k.startswith(STATE_PREFIX)}

    def manifest(self, path: Path) -> "Manifest":
        """The manifest of this index: the JSON file ``path`` for the embedded store; for a
        Chroma server a :class:`StoreManifest` kept in the server, shared by every process."""
        if self.settings.store == "http":
            return StoreManifest(self)
        return Manifest(path)

    def _manifest_collection(self) -> Any:
        return self.client.get_or_create_collection(
            self.settings.collection + MANIFEST_SUFFIX, embedding_function=None,
            metadata={"purpose": "manifest of " + self.settings.collection})

    def _drop_manifest_collection(self) -> None:
        try:
            self.client.delete_collection(self.settings.collection + MANIFEST_SUFFIX)
        except Exception:  # noqa: BLE001 - there was none
            pass

    # ---- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.collection.count())

    def sources(self) -> dict[str, int]:
        """Each stored document with its number of chunks."""
        counts: dict[str, int] = {}
        for chunk in self.iter_chunks(include_text=False):
            counts[chunk.source] = counts.get(chunk.source, 0) + 1
        return counts

    def iter_chunks(self, batch: int = 2000, include_text: bool = True) -> Iterator[Chunk]:
        include = ["metadatas", "documents"] if include_text else ["metadatas"]
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            docs = got.get("documents") or [""] * len(ids)
            for cid, text, meta in zip(ids, docs, got["metadatas"]):
                yield Chunk(cid, text or "", _read_metadata(meta))
            offset += len(ids)

    def get(self, ids: Iterable[str]) -> list[Chunk]:
        ids = list(ids)
        if not ids:
            return []
        got = _in_order(self.collection.get(ids=ids, include=["metadatas", "documents"]), ids)
        return [Chunk(cid, text or "", _read_metadata(meta))
                for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"])]

    def search_ids(self, vector: np.ndarray, k: int,
                   where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(id, cosine) of the nearest chunks, without their texts (3x faster at 100k
        chunks: only the chunks an answer keeps are fetched, with :meth:`get`)."""
        if k < 1:
            return []
        query = [np.asarray(vector).tolist()]
        found: list[tuple[str, float]] = []
        for n in self._wider(k):
            res = self.collection.query(query_embeddings=query, n_results=n,
                                        where=where or None, include=["distances"])
            got = list(zip(res["ids"][0], res["distances"][0]))
            found = [(cid, 1.0 - float(dist)) for cid, dist in got if self._shown(cid)]
            if len(found) >= k or len(got) < n:
                break
        return found[:k]

    def _shown(self, cid: str) -> bool:
        return self._visible is None or cid in self._visible

    def _wider(self, k: int) -> Iterator[int]:
        """How many neighbours to ask for: ``k``, then more while hidden chunks (being
        written by an ingest) push visible ones out, up to the whole collection."""
        if self._visible is None:
            yield k
            return
        if not self._visible:
            return  # nothing published yet: nothing to find
        n, cap = k, max(k * WIDEST_SEARCH, 1000)
        while True:
            yield n
            total = self.count()
            if n >= min(total, cap):
                return  # bounded: with more hidden chunks than that, fewer results
            n = min(total, cap, n * 4)

    def ids(self, batch: int = 50000) -> list[str]:
        """Every chunk id, in the order :meth:`dump` gives the chunks; no texts, metadata
        or vectors are read (at 100k chunks a fraction of a second, where :meth:`dump`
        takes tens of seconds)."""
        out: list[str] = []
        while True:
            got = self.collection.get(include=[], limit=batch, offset=len(out))
            if not got["ids"]:
                return out
            out.extend(got["ids"])

    def dump(self, batch: int = 5000,
             ids: list[str] | None = None) -> tuple[list[Chunk], np.ndarray | None]:
        """Every chunk with its embedding (rows in the order of the chunks), in one pass;
        for the lexical index, which also serves exact filtered dense search. With ``ids``,
        only those chunks, in that order (an id the store does not hold is left out)."""
        chunks: list[Chunk] = []
        parts: list[np.ndarray] = []
        offset = 0
        include = ["metadatas", "documents", "embeddings"]
        while True:
            if ids is None:
                got = self.collection.get(include=include, limit=batch, offset=offset)
            elif offset < len(ids):
                got = _in_order(self.collection.get(ids=ids[offset:offset + batch],
                                                    include=include),
                                ids[offset:offset + batch])
            else:
                break
            found = got["ids"]
            if not found and ids is None:
                break
            docs = got.get("documents") or [""] * len(found)
            chunks.extend(Chunk(cid, text or "", _read_metadata(meta))
                          for cid, text, meta in zip(found, docs, got["metadatas"]))
            embeddings = got.get("embeddings")
            if found and embeddings is not None and len(embeddings) == len(found):
                parts.append(np.asarray(embeddings, dtype=np.float32).reshape(len(found), -1))
            offset += len(found) if ids is None else batch
        if not chunks or sum(len(p) for p in parts) != len(chunks):
            return chunks, None
        return chunks, np.concatenate(parts)

    def vectors(self, ids: list[str], batch: int = 5000) -> np.ndarray | None:
        """The embeddings of ``ids``, in that order (None when one is missing)."""
        if not ids:
            return None
        out = np.empty((len(ids), 0), dtype=np.float32)
        position = {cid: i for i, cid in enumerate(ids)}
        for start in range(0, len(ids), batch):
            got = self.collection.get(ids=ids[start:start + batch], include=["embeddings"])
            embeddings = got.get("embeddings")
            if embeddings is None or len(embeddings) != len(got["ids"]):
                return None
            embeddings = np.asarray(embeddings, dtype=np.float32)
            if out.shape[1] == 0:
                out = np.full((len(ids), embeddings.shape[1]), np.nan, dtype=np.float32)
            out[[position[cid] for cid in got["ids"]]] = embeddings
        if out.shape[1] == 0 or np.isnan(out[:, 0]).any():
            return None
        return out


@contextlib.contextmanager
def store_errors(settings: Settings) -> Iterator[None]:
    """Failures of a write to the store as the assistant's errors: a full disk as
    :class:`DiskFullError`, anything else Chroma or its connection raises as
    :class:`StoreUnavailableError` (the server was killed, a connection dropped, SQLite
    refused the write). The cause stays chained for the log."""
    try:
        yield
    except AssistantError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated, never shown as a traceback
        raise store_failure(exc, settings) from exc


def store_failure(exc: BaseException, settings: Settings) -> AssistantError:
    """The assistant's error for a failure of the store (see :func:`store_errors`)."""
    if is_disk_full(exc):
        return DiskFullError(str(exc)[:200], where=str(settings.index_dir))
    where = (f"{settings.chroma_host}:{settings.chroma_port}" if settings.store == "http"
             else str(Path(settings.index_dir) / CHROMA_SUBDIR))
    return StoreUnavailableError(f"{where}: {type(exc).__name__}: {exc}"[:300])


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT anywhere in the chain, or SQLite's own words for it."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left" in text or "quota exceeded" in text:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return False


def _in_order(got: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """A ``collection.get`` result with its rows in the order of ``ids`` (Chroma does not
    promise it); ids it did not return are left out."""
    row = {cid: i for i, cid in enumerate(got["ids"])}
    rows = [row[cid] for cid in ids if cid in row]
    if rows == list(range(len(got["ids"]))):
        return got
    out: dict[str, Any] = {"ids": [got["ids"][i] for i in rows]}
    for key in ("documents", "metadatas", "embeddings"):
        values = got.get(key)
        out[key] = None if values is None else [values[i] for i in rows]
    return out


def _stored_metadata(chunk: Chunk) -> dict[str, Any]:
    """The record's metadata for one chunk (``None`` stored as "")."""
    unknown = sorted(set(chunk.metadata).difference(METADATA_KEYS))
    if unknown:
        raise ValueError(f"chunk {chunk.id!r} has metadata keys the store does not keep: "
                         f"{', '.join(unknown)} (kept: {', '.join(METADATA_KEYS)})")
    return {k: ("" if v is None else v) for k, v in chunk.metadata.items()}


def _read_metadata(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A chunk's metadata from its record: the :data:`METADATA_KEYS` it has, in that
    order. Anything else is left out, in particular the keys LlamaIndex's
    ``ChromaVectorStore`` wrote beside ours in indexes built before the store wrote to
    Chroma itself (``_node_content``, ``_node_type``, ``doc_id``, ``document_id``,
    ``ref_doc_id``): such an index reads as one written now, without a rebuild."""
    meta = meta or {}
    return {k: meta[k] for k in METADATA_KEYS if k in meta}


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


class StoreManifest(Manifest):
    """The manifest kept in the Chroma server, for several processes on several machines.

    One record per indexed file in the side collection ``<collection>-manifest`` (id = the
    file's source path, document = its JSON entry), so saving after each file sends only
    what changed; the signature and the manifest's version go to the main collection's
    metadata (:meth:`ChunkStore.set_state`), where readers poll them cheaply.
    """

    def __init__(self, store: ChunkStore) -> None:
        self.store = store
        self.path = Path(f"chroma://{store.settings.collection}{MANIFEST_SUFFIX}")
        state = store.get_state()
        self.signature = state.get("signature")
        self.files = {}
        side = store._manifest_collection()
        offset = 0
        while True:
            got = side.get(include=["documents"], limit=1000, offset=offset)
            if not got["ids"]:
                break
            for source, doc in zip(got["ids"], got["documents"] or []):
                try:
                    self.files[source] = json.loads(doc or "{}")
                except ValueError:
                    continue
            offset += len(got["ids"])
        self._saved = {k: json.dumps(v, sort_keys=True, ensure_ascii=False)
                       for k, v in self.files.items()}

    def save(self) -> None:
        side = self.store._manifest_collection()
        now = {k: json.dumps(v, sort_keys=True, ensure_ascii=False)
               for k, v in self.files.items()}
        gone = [k for k in self._saved if k not in now]
        changed = [k for k, v in now.items() if self._saved.get(k) != v]
        if gone:
            side.delete(ids=gone)
        if changed:
            side.upsert(ids=changed, documents=[now[k] for k in changed],
                        embeddings=[[0.0] for _ in changed])
        self._saved = now
        self.store.set_state(signature=self.signature, version=self.version(),
                             files=len(self.files))
