"""The index state questions read (lexical index, kept vectors, corpus facts), kept in line
with the store across threads and processes.

:class:`IndexState` is one consistent snapshot, saved under ``index/bm25`` with the
version of the store it reflects. :class:`IndexSync` decides when a new one is needed
(another process ingested, this one published), makes it aside (loaded, updated with
only the chunks that changed, or built from the whole store) and hands it to the
assistant, which swaps it in at once. While an ingest writes the index the state in use
stays: it is the last consistent one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_text
from .config import Settings
from .corpus_facts import CorpusFacts
from .errors import IndexMissingError
from .ingestion.pipeline import MANIFEST_NAME
from .lexical import LexicalIndex
from .chunk import Chunk
from .store import ChunkStore, Manifest
from .text import ANALYZER_VERSION
from .vector_cache import VectorCache

log = logging.getLogger(__name__)

BM25_SUBDIR = "bm25"
INDEX_FILE = "ids.json"  # names every other file of a state; written last, by a rename


@dataclass(frozen=True)
class IndexState:
    """One consistent state of the index: the lexical index, the kept vectors (None when
    the store gave none) and the corpus facts over the same chunk rows, with the store
    version they reflect and the manifest entries (source -> hash and chunk count) they
    were made from (None when unknown: then only a build can follow)."""

    version: str | None
    lexical: LexicalIndex
    facts: CorpusFacts
    vectors: VectorCache | None = None
    sources: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.lexical.ids != self.facts.ids:
            raise ValueError("the lexical index and the facts must hold the same chunks")
        if self.vectors is not None and len(self.vectors) != len(self.facts.ids):
            raise ValueError(f"the vectors must hold one row per chunk "
                             f"({len(self.facts.ids)}), got {len(self.vectors)}")

    @property
    def ids(self) -> list[str]:
        return self.facts.ids

    @classmethod
    def empty(cls, place_aliases: Mapping[str, str] | None = None) -> IndexState:
        """No chunks (before the first refresh)."""
        return cls(None, LexicalIndex([], None, {}), CorpusFacts([], [], {}, {}, place_aliases),
                   None, {})

    @classmethod
    def build(cls, chunks: Sequence[Chunk], version: str,
              vectors: np.ndarray | None = None, sources: Mapping[str, str] | None = None,
              place_aliases: Mapping[str, str] | None = None) -> IndexState:
        """The state of ``chunks``; ``vectors`` (their embeddings, in the same order) enable
        the exact filtered dense search; ``sources`` (the manifest's, read before the
        chunks) lets a later :meth:`updated` find the documents that changed."""
        lexical = LexicalIndex.build(chunks)
        facts = CorpusFacts.build(chunks, lexical.df, place_aliases)
        return cls(version, lexical, facts, VectorCache.from_vectors(vectors, facts.meta),
                   dict(sources) if sources is not None else None)

    def updated(self, added: Sequence[Chunk], removed: Sequence[str], version: str,
                added_vectors: np.ndarray | None = None, order: Sequence[str] | None = None,
                sources: Mapping[str, str] | None = None) -> IndexState | None:
        """This state without the ``removed`` chunks and with the ``added`` ones (an added
        chunk replaces its old version), in ``order`` (the store's order, so that the result
        is the one :meth:`build` would give over the whole store: same rows, scores, df,
        acronyms and vector groups). ``added_vectors`` are the embeddings of ``added``. None
        when it cannot be updated (saved without token lists, acronyms or vectors, ``order``
        not made of the kept and added chunks): a build is then needed."""
        added_ids = [c.id for c in added]
        if len(set(added_ids)) != len(added_ids):
            return None
        if self.vectors is None and added_vectors is not None and len(added):
            return None  # the kept chunks' vectors are missing: a build fetches them all
        gone = set(removed) | set(added_ids)
        kept_rows = np.array([i for i, cid in enumerate(self.ids) if cid not in gone],
                             dtype=np.int64)
        # rows of the combined list (kept chunks, then added ones) in the final order
        names = [self.ids[i] for i in kept_rows.tolist()] + added_ids
        order = names if order is None else list(order)
        at = {cid: i for i, cid in enumerate(names)}
        if len(order) != len(names) or len(set(order)) != len(order) or not order:
            return None
        try:
            perm = np.array([at[cid] for cid in order], dtype=np.int64)
        except KeyError:
            return None
        lexical = self.lexical.updated(kept_rows, added, perm)
        if lexical is None:
            return None
        facts = self.facts.updated(kept_rows, added, perm, lexical.df)
        if facts is None:
            return None
        vectors = None
        if self.vectors is not None:
            vectors = self.vectors.updated(kept_rows, added_vectors, len(added), perm,
                                           facts.meta)
            if vectors is None:
                return None
        return IndexState(version, lexical, facts, vectors,
                          dict(sources) if sources is not None else self.sources)

    def with_vectors(self, vectors: np.ndarray | None) -> IndexState:
        """This state with the kept vectors (for one saved without them)."""
        return replace(self, vectors=VectorCache.from_vectors(vectors, self.facts.meta))

    # ---- on disk -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the state. Every large file gets a new name, named in ``ids.json`` (written
        last, by a rename): a crash or another process reading meanwhile never pairs the
        ids with another version's model, vectors or token lists. Files of older states
        are removed (unless being written)."""
        folder.mkdir(parents=True, exist_ok=True)
        lexical = self.lexical.save(folder)
        vectors_file = self.vectors.save(folder) if self.vectors is not None else None
        facts = self.facts.saved_fields()
        write_text(folder / INDEX_FILE, json.dumps(
            {"analyzer": ANALYZER_VERSION, "version": self.version, "ids": self.ids,
             "meta": facts["meta"], "df": lexical["df"], "acronyms": facts["acronyms"],
             "chunk_acronyms": facts["chunk_acronyms"], "sources": self.sources,
             "model": lexical["model"], "vectors": vectors_file, "tokens": lexical["tokens"]},
            ensure_ascii=False))
        keep = self.lexical.files() | (self.vectors.files() if self.vectors else set())
        _remove_old_files(folder, keep)

    @classmethod
    def load(cls, folder: Path,
             place_aliases: Mapping[str, str] | None = None) -> IndexState | None:
        """The saved state; None when there is none, it is unreadable or it was made by
        another version of the Italian analyzer. Token lists are read only when an update
        needs them; vectors missing or not matching leave the state without vectors."""
        if not (folder / INDEX_FILE).is_file():
            return None
        try:
            data = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
            if data.get("analyzer") != ANALYZER_VERSION:
                return None  # made with other words: rebuilt from the store
            ids = data["ids"]
            lexical = LexicalIndex.load(folder, ids, data)
            facts = CorpusFacts(ids, data["meta"], lexical.df, data.get("chunk_acronyms"),
                                place_aliases, acronyms=data.get("acronyms", {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        name = data.get("vectors")
        vectors = VectorCache.load(folder, name, len(ids)) if name else None
        return cls(data.get("version"), lexical, facts, vectors, data.get("sources"))


def _remove_old_files(folder: Path, keep: set[str]) -> None:
    for old in [*folder.glob("vectors-*.npy*"), *folder.glob("tokens-*"),
                *folder.glob("model-*"), folder / "model"]:
        if old.name in keep or _being_written(old):
            continue
        try:
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                os.unlink(old)
        except OSError:  # still mapped elsewhere (Windows): removed next time
            pass


def _being_written(path: Path) -> bool:
    """A temporary file or folder of a save in progress (another process's, perhaps); one
    left by a crash is removed after an hour."""
    if not path.name.endswith(".tmp"):
        return False
    try:
        return time.time() - path.stat().st_mtime < 3600
    except OSError:
        return True


class IndexSync:
    """Keeps an :class:`IndexState` in line with the store and hands each new one to
    ``install`` (the assistant's swap), under a lock, so that states are installed in the
    order they are made.

    ``store`` gives the store (the assistant opens it on first use and again after
    ``close``). ``place_aliases`` are the extra place words of ``search.yaml`` by default.
    """

    def __init__(self, settings: Settings, store: Callable[[], ChunkStore],
                 install: Callable[[IndexState], None],
                 place_aliases: Mapping[str, str] | None = None) -> None:
        if not callable(store) or not callable(install):
            raise ValueError(f"store and install must be callables, got {store!r:.60} and "
                             f"{install!r:.60}")
        self.settings = settings
        self.folder = Path(settings.index_dir) / BM25_SUBDIR
        self._store = store
        self._install = install
        self._aliases = dict(place_aliases) if place_aliases is not None else None
        self._lock = threading.Lock()  # guards the installed version and the last check
        self._refresh_lock = threading.Lock()  # one thread makes a new state at a time
        self._version: str | None = None
        self._checked_at: float | None = None

    @property
    def version(self) -> str | None:
        """The version of the state installed last (None before the first)."""
        return self._version

    @property
    def place_aliases(self) -> dict[str, str]:
        if self._aliases is None:
            from .datafiles import load_yaml

            self._aliases = dict(load_yaml("search.yaml").get("place_aliases") or {})
        return self._aliases

    def manifest(self) -> Manifest:
        """The manifest file, or for a Chroma server the manifest shared in the server. The
        embedded store is not opened for it (reading the file needs no store, and opening
        it would create an empty index where there is none)."""
        path = Path(self.settings.index_dir) / MANIFEST_NAME
        return self._store().manifest(path) if self.settings.store == "http" \
            else Manifest(path)

    def recheck(self) -> None:
        """Check the store's version at the next :meth:`refresh`, however recent the last
        check (after this process's own ingest)."""
        with self._lock:
            self._checked_at = None

    def refresh(self, force: bool = False) -> None:
        """Install a new state when the store changed (``force``: rebuild it from the whole
        store in any case).

        The check (manifest and store count) runs at most every
        ``settings.state_check_seconds``, so another process's ingest is seen within that
        time. While an ingest writes the index (the write lock is held) the state in use
        stays. A question that finds another thread making the new state goes on with
        the current one instead of waiting (only the first state, or ``force``, is waited
        for). A new state that cannot be saved (a full disk) leaves the one in use.
        """
        from .locking import IndexWriteLock
        from .store import store_failure

        now = time.monotonic()
        with self._lock:
            if not force and self._checked_at is not None and self._version is not None \
                    and now - self._checked_at < self.settings.state_check_seconds:
                return
            self._checked_at = now
        waited = force or self._version is None
        if not self._refresh_lock.acquire(blocking=waited):
            return  # another thread makes the new state: answer from the current one
        try:
            with IndexWriteLock(Path(self.settings.index_dir)).reading() as free:
                if not free and self._version is not None and not force:
                    return  # an ingest is writing: keep the last consistent state
                manifest, version = self.read_version()
                if not force and version == self._version:
                    return
                try:
                    state = self.state_for(version, manifest, force, writing=not free)
                except OSError as exc:  # the new state could not be saved: a full disk
                    if self._version is None:
                        raise store_failure(exc, self.settings) from exc
                    log.warning("index state kept, the new one could not be built: %s", exc)
                    return
                self._commit(state, state.version or version)
        finally:
            self._refresh_lock.release()

    def publish(self) -> None:
        """Called by the ingest once every new version is stored and before the old ones
        are deleted: make the new state (retired chunks and deleted documents left out)
        and install it. Its version is the one the store will have once the ingest has
        deleted them, so the refresh after the ingest finds nothing to do."""
        manifest = self.manifest()
        chunks = sum(int(entry.get("chunks", 0)) for entry in manifest.files.values())
        version = f"{self._stored_version(manifest)}:{chunks}"
        with self._refresh_lock:
            if version != self._version:  # an ingest that changed nothing: no work
                self._commit(self.state_for(version, manifest, force=False), version)

    def read_version(self) -> tuple[Manifest | None, str]:
        """The manifest (None for a Chroma server) and the version of the stored state."""
        if self.settings.store == "http":  # shared by every process (docs/scale-out.md)
            return None, f"{self._stored_version(None)}:{self._store().count()}"
        manifest = self.manifest()
        if not manifest.path.exists() \
                and not (Path(self.settings.index_dir) / "chroma").exists():
            raise IndexMissingError(str(self.settings.index_dir),
                                    index=str(self.settings.index_dir))
        return manifest, f"{manifest.version()}:{self._store().count()}"

    def _stored_version(self, manifest: Manifest | None) -> str:
        """The version of what the manifest lists: kept in the server for a Chroma server
        (every process reads the same), else the manifest's own."""
        if self.settings.store == "http":
            return str(self._store().get_state().get("version"))
        assert manifest is not None
        return manifest.version()

    def _commit(self, state: IndexState, version: str) -> None:
        with self._lock:
            self._install(state)
            self._version = version

    def state_for(self, version: str, manifest: Manifest | None, force: bool,
                  writing: bool = False) -> IndexState:
        """A state for ``version``, made aside (the one in use is not touched): the saved
        one when it is that version, or while an ingest is ``writing`` (it is the last
        consistent state); else the saved one updated, or a full build. Only the chunks of
        documents the manifest lists, and not retired, are indexed. Saved before it is
        returned (OSError when it cannot be)."""
        store = self._store()
        saved = None if force else IndexState.load(self.folder, self.place_aliases)
        if saved is not None and (saved.version == version or writing):
            if saved.vectors is None and saved.ids:
                # a state saved without the vectors of exact filtered search
                vectors = store.vectors(saved.ids)
                if vectors is not None and not writing:
                    saved = saved.with_vectors(vectors)
                    if saved.vectors is not None:
                        saved.save(self.folder)
            return saved
        # the manifest is read before the store: a document that changes after it
        # changes its entry, so the next refresh sees it
        manifest = manifest if manifest is not None else self.manifest()
        sources = source_hashes(manifest)
        retired = retired_ids(manifest)
        state = self._updated(saved, version, sources, retired) if saved is not None else None
        if state is None:
            chunks, vectors = listed_only(*store.dump(), sources, retired)
            state = IndexState.build(chunks, version, vectors, sources, self.place_aliases)
        state.save(self.folder)
        return state

    def _updated(self, state: IndexState, version: str, sources: dict[str, str],
                 retired: frozenset[str]) -> IndexState | None:
        """``state`` (a loaded one) brought up to date by dropping and adding only the
        chunks that changed: those whose id is new or gone, and every chunk of a document
        whose manifest entry changed (a catalog edit keeps the chunk ids but changes title
        and metadata) or that the manifest does not list (perhaps being written).
        ``retired`` chunks (old versions still stored) are left out. None when a full build
        is needed instead: the state was saved without what an update needs, or more than
        half of the store changed."""
        if state.sources is None or state.facts.chunk_acronyms is None or not state.ids:
            return None
        store = self._store()
        meta = state.facts.meta
        # chunks of documents the manifest no longer lists (deleted, not yet out of the
        # store) are known by their metadata: left out without being read again
        unlisted = {cid for cid, m in zip(state.ids, meta) if m.get("source") not in sources}
        order = [cid for cid in store.ids() if cid not in retired and cid not in unlisted]
        present = set(order)
        dirty = {s for s in set(state.sources) | set(sources)
                 if state.sources.get(s) != sources.get(s)}
        removed = [cid for cid, m in zip(state.ids, meta)
                   if cid not in present or m.get("source") in dirty
                   or m.get("source") not in sources]
        kept = set(state.ids).difference(removed)
        added = [cid for cid in order if cid not in kept]
        if len(removed) + len(added) > max(len(order), len(state.ids)) // 2:
            return None
        chunks, vectors = store.dump(ids=added)
        if len(chunks) != len(added):  # deleted meanwhile: the store is being written
            return None
        listed, vectors = listed_only(chunks, vectors, sources, frozenset())
        if len(listed) != len(chunks):  # chunks of a document not (or no longer) listed
            dropped = {c.id for c in chunks}.difference(c.id for c in listed)
            order = [cid for cid in order if cid not in dropped]
        try:
            return state.updated(listed, removed, version, vectors, order=order,
                                 sources=sources)
        except (OSError, ValueError, IndexError) as exc:  # unreadable token lists
            log.warning("lexical index rebuilt in full: %s", exc)
            return None


def source_hashes(manifest: Manifest) -> dict[str, str]:
    """Each document the manifest lists, with what changes when it is indexed again."""
    return {source: f"{entry.get('hash')}:{entry.get('chunks')}"
            for source, entry in manifest.files.items()}


def retired_ids(manifest: Manifest) -> frozenset[str]:
    """Chunks of old versions an ingest keeps until its switch (manifest ``retired``)."""
    return frozenset(cid for entry in manifest.files.values()
                     for cid in entry.get("retired") or ())


def listed_only(chunks: list[Chunk], vectors: Any, sources: Mapping[str, str],
                retired: frozenset[str]) -> tuple[list[Chunk], Any]:
    """``chunks`` (and their rows of ``vectors``) of documents in ``sources`` and not
    ``retired``: what a consistent state holds."""
    keep = [i for i, chunk in enumerate(chunks)
            if chunk.source in sources and chunk.id not in retired]
    if len(keep) == len(chunks):
        return chunks, vectors
    return [chunks[i] for i in keep], (None if vectors is None else vectors[keep])


__all__ = ["BM25_SUBDIR", "IndexState", "IndexSync"]
