"""Retrieval: dense (Chroma through LlamaIndex), lexical (BM25, Italian stems) and their
fusion (scaled scores or reciprocal ranks), with filters by ambito, comune, document type
and year."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from .embedding import Embedder
from .store import ChunkStore, StoredChunk
from .text import ANALYZER_VERSION, normalize, terms

BM25_SUBDIR = "bm25"


@dataclass(frozen=True)
class Filters:
    """Restrictions on what may be retrieved. ``comune`` is resolved to its ambito."""

    ambito: str | None = None
    comune: str | None = None
    doc_type: str | None = None
    year: int | None = None
    source: str | None = None
    region: str | None = None

    def is_empty(self) -> bool:
        return not any((self.ambito, self.comune, self.doc_type, self.year, self.source,
                        self.region))

    def stored_fields(self) -> list[tuple[str, Any]]:
        """The restrictions as (chunk metadata field, value); ``comune`` is not one of them
        (it must be resolved to its ambito first)."""
        return [(key, getattr(self, key)) for key in ("ambito", "doc_type", "year", "source",
                                                       "region") if getattr(self, key)]

    def where(self) -> dict | None:
        """A Chroma ``where`` clause."""
        clauses = [{key: value} for key, value in self.stored_fields()]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class BM25Index:
    """bm25s over stemmed Italian terms of every chunk (title and section included).

    Saved under ``index/bm25`` with the manifest version it was built from, the token lists
    of every chunk and the manifest entries (source -> hash) it reflects; when that version
    changes, :meth:`update` drops and adds only the chunks that changed (their terms, the
    acronyms they define, their vectors), and :meth:`build` indexes the whole store when
    it cannot (no token lists, another analyzer, most of the store changed).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder else None
        self.version: str | None = None
        self.ids: list[str] = []
        self.meta: list[dict[str, Any]] = []
        self.df: dict[str, int] = {}
        self.acronyms: dict[str, str] = {}  # defined by the documents themselves
        # chunk id -> the acronyms it defines (only chunks that define some): what removing
        # a chunk takes away; ``acronyms`` is their union, the first chunk in ids order wins
        self.chunk_acronyms: dict[str, dict[str, str]] | None = {}
        # the manifest entries (source -> hash) this index reflects; None when unknown
        self.sources: dict[str, str] | None = {}
        self._columns: dict[str, np.ndarray] = {}  # metadata field -> value per chunk
        self._masks: dict[tuple, np.ndarray] = {}  # filter -> accepted rows, per version
        # unit dense vectors for exact dense search inside a filter, grouped by region,
        # ambito and source so that such a filter reads one contiguous slice:
        # vectors[position[i]] is the vector of ids[i], order is the inverse permutation
        self.vectors: np.ndarray | None = None
        self._order: np.ndarray | None = None
        self._position: np.ndarray | None = None
        self._vectors_file: str | None = None
        self._tokens: _Tokens | None = None  # every chunk's terms, read when updating
        self._tokens_file: str | None = None
        self._model_dir: str | None = None
        self._bm25: Any = None
        self._rows: dict[str, int] | None = None  # chunk id -> position in ids
        self._lock = threading.Lock()

    def build(self, chunks: list[StoredChunk], version: str,
              vectors: np.ndarray | None = None,
              sources: dict[str, str] | None = None) -> None:
        """Index ``chunks``; ``vectors`` (their embeddings, in the same order) enable the
        exact filtered dense search of :meth:`dense_search`; ``sources`` (the manifest's
        source -> hash, read before the chunks) lets a later :meth:`update` find the
        documents that changed."""
        from .expansion import acronyms_defined_in

        vocab: dict[str, int] = {}
        docs = [[vocab.setdefault(t, len(vocab)) for t in _chunk_terms(c)] for c in chunks]
        counts = np.zeros(len(vocab), dtype=np.int64)
        for doc in docs:
            counts[list(set(doc))] += 1
        terms_list = list(vocab)
        df = {terms_list[i]: int(n) for i, n in enumerate(counts)}
        chunk_acronyms = {c.id: found for c in chunks if (found := acronyms_defined_in(c.text))}
        tokens = _Tokens.from_docs(terms_list, docs)
        model = _bm25_model(docs, vocab)
        ids = [c.id for c in chunks]
        with self._lock:
            self._bm25 = model
            self.ids = ids
            self.meta = [c.metadata for c in chunks]
            self.df = df
            self.chunk_acronyms = chunk_acronyms
            self.acronyms = _union_acronyms(ids, chunk_acronyms)
            self.sources = dict(sources) if sources is not None else None
            self._tokens, self._tokens_file, self._model_dir = tokens, None, None
            self._reset_caches()
            self._set_vectors(_unit_rows(vectors, len(ids)))
            self.version = version
        if self.folder:
            self.save()

    def update(self, added: list[StoredChunk], removed: list[str], version: str,
               added_vectors: np.ndarray | None = None, order: list[str] | None = None,
               sources: dict[str, str] | None = None) -> bool:
        """Drop the ``removed`` chunks, index the ``added`` ones (only they are tokenised),
        and put the chunks in ``order`` (the store's order, so that the result is the one
        :meth:`build` would give over the whole store: same rows, scores, df, acronyms and
        vector groups). ``added_vectors`` are the embeddings of ``added``; ``sources`` the
        manifest entries read before the store. False, and nothing changed, when this index
        cannot be updated (saved without token lists or vectors, ``order`` not made of the
        kept and added chunks): :meth:`build` is then needed."""
        from .expansion import acronyms_defined_in

        tokens = self._tokens if self._tokens is not None else self._load_tokens()
        if tokens is None or self.chunk_acronyms is None or len(tokens) != len(self.ids):
            return False
        added_ids = [c.id for c in added]
        if len(set(added_ids)) != len(added_ids):
            return False
        gone = set(removed) | set(added_ids)  # an added chunk replaces its old version
        kept_rows = np.array([i for i, cid in enumerate(self.ids) if cid not in gone],
                             dtype=np.int64)
        unit = None
        if self.vectors is not None and self._position is not None:
            new_unit = _unit_rows(added_vectors, len(added)) if added else \
                np.empty((0, self.vectors.shape[1]), dtype=np.float32)
            if new_unit is None or new_unit.shape[1] != self.vectors.shape[1]:
                return False
            unit = np.concatenate([np.asarray(self.vectors[self._position[kept_rows]]),
                                   new_unit])
        elif added_vectors is not None and len(added):
            return False  # the kept chunks' vectors are missing: a build fetches them all
        # rows of the combined list (kept chunks, then added ones) in the final order
        names = [self.ids[i] for i in kept_rows] + added_ids
        if order is None:
            order = names
        at = {cid: i for i, cid in enumerate(names)}
        if len(order) != len(names) or len(at) != len(names) or not order:
            return False
        try:
            perm = np.array([at[cid] for cid in order], dtype=np.int64)
        except KeyError:
            return False
        # terms: removed chunks' leave df, added chunks' enter it
        df = dict(self.df)
        vocab_terms = list(tokens.vocab)
        for row in sorted({row for row in self.rows(list(gone)) if row is not None}):
            for term_id in np.unique(tokens.doc(row)):
                term = vocab_terms[term_id]
                left = df.get(term, 0) - 1
                if left > 0:
                    df[term] = left
                else:
                    df.pop(term, None)
        vocab = {t: i for i, t in enumerate(vocab_terms)}
        new_docs = [[vocab.setdefault(t, len(vocab)) for t in _chunk_terms(c)] for c in added]
        vocab_terms = list(vocab)
        for doc in new_docs:
            for term_id in set(doc):
                term = vocab_terms[term_id]
                df[term] = df.get(term, 0) + 1
        merged = tokens.select(kept_rows).extend(vocab_terms, new_docs).select(perm).compact()
        if len(merged.vocab) != len(df) or set(merged.vocab) != set(df):
            return False  # the saved df and token lists disagree: rebuild
        docs = merged.lists()
        model = _bm25_model(docs, {t: i for i, t in enumerate(merged.vocab)})
        chunk_acronyms = {cid: found for cid, found in self.chunk_acronyms.items()
                          if cid not in gone}
        for chunk in added:
            found = acronyms_defined_in(chunk.text)
            if found:
                chunk_acronyms[chunk.id] = found
        meta_all = [self.meta[i] for i in kept_rows] + [c.metadata for c in added]
        meta = [meta_all[i] for i in perm]
        ids = list(order)
        with self._lock:
            self._bm25 = model
            self.ids, self.meta, self.df = ids, meta, df
            self.chunk_acronyms = chunk_acronyms
            self.acronyms = _union_acronyms(ids, chunk_acronyms)
            if sources is not None:
                self.sources = dict(sources)
            self._tokens, self._tokens_file, self._model_dir = merged, None, None
            self._reset_caches()
            self._set_vectors(None if unit is None else unit[perm])
            self.version = version
        if self.folder:
            self.save()
        return True

    def attach_vectors(self, vectors: np.ndarray) -> None:
        """Dense vectors for an index loaded without them (saved by an older version)."""
        with self._lock:
            self._set_vectors(_unit_rows(vectors, len(self.ids)))
        if self.folder and self.vectors is not None:
            self.save()

    def _reset_caches(self) -> None:
        self._rows = None
        self._columns = {}
        self._masks = {}

    def _set_vectors(self, unit: np.ndarray | None) -> None:
        """Keep ``unit`` (unit rows in ``ids`` order), grouped by region, ambito, source."""
        self._vectors_file = None
        if unit is None:
            self.vectors = self._order = self._position = None
            return
        keys = [np.unique(np.array([str(m.get(f)) for m in self.meta], dtype=object),
                          return_inverse=True)[1] for f in ("source", "ambito", "region")]
        order = np.lexsort(keys)  # stable: by region, then ambito, then source
        self.vectors = np.ascontiguousarray(unit[order])
        self._order = order.astype(np.int64)
        self._position = np.empty_like(self._order)
        self._position[self._order] = np.arange(len(order), dtype=np.int64)

    def save(self) -> None:
        """Write the index. Every large file gets a new name, named in ``ids.json`` (written
        last, by a rename): a crash or another process reading meanwhile never pairs the
        ids with another version's model, vectors or token lists."""
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        model_dir = self._model_dir
        if self._bm25 is not None and model_dir is None:
            model_dir = f"model-{uuid.uuid4().hex[:12]}"
            tmp_dir = self.folder / (model_dir + ".tmp")
            self._bm25.save(str(tmp_dir))
            tmp_dir.replace(self.folder / model_dir)
            self._model_dir = model_dir
        vectors_file = self._vectors_file
        if self.vectors is not None and vectors_file is None:
            vectors_file = f"vectors-{uuid.uuid4().hex[:12]}.npy"
            for name, array in ((_order_file(vectors_file), self._order),
                                (vectors_file, self.vectors)):
                if array is not None:
                    _save_array(self.folder / name, array)
            self._vectors_file = vectors_file
        tokens_file = self._tokens_file
        if self._tokens is not None and tokens_file is None:
            tokens_file = f"tokens-{uuid.uuid4().hex[:12]}"
            self._tokens.save(self.folder, tokens_file)
            self._tokens_file = tokens_file
        tmp = self.folder / "ids.json.tmp"
        tmp.write_text(json.dumps({"analyzer": ANALYZER_VERSION, "version": self.version,
                                   "ids": self.ids,
                                   "meta": self.meta, "df": self.df,
                                   "acronyms": self.acronyms,
                                   "chunk_acronyms": self.chunk_acronyms,
                                   "sources": self.sources,
                                   "model": model_dir,
                                   "vectors": vectors_file,
                                   "tokens": tokens_file}, ensure_ascii=False),
                       encoding="utf-8")
        tmp.replace(self.folder / "ids.json")
        keep = {vectors_file, _order_file(vectors_file)} if vectors_file else set()
        keep |= set(_Tokens.files(tokens_file)) if tokens_file else set()
        keep |= {model_dir} if model_dir else set()
        for old in [*self.folder.glob("vectors-*.npy*"), *self.folder.glob("tokens-*"),
                    *self.folder.glob("model-*"), self.folder / "model"]:
            if old.name in keep or _being_written(old):
                continue
            try:
                if old.is_dir():
                    shutil.rmtree(old)
                elif old.exists():
                    os.unlink(old)
            except OSError:  # still mapped elsewhere (Windows): removed next time
                pass

    def load(self) -> bool:
        """Load the saved index; False when there is none, it is unreadable or it was built
        by another version of the Italian analyzer. The token lists are read only when
        :meth:`update` needs them."""
        import bm25s

        if not self.folder or not (self.folder / "ids.json").is_file():
            return False
        try:
            data = json.loads((self.folder / "ids.json").read_text(encoding="utf-8"))
            if data.get("analyzer") != ANALYZER_VERSION:
                return False  # built with other words: rebuilt from the store
            model_dir = data.get("model") or "model"
            model = bm25s.BM25.load(str(self.folder / model_dir)) if data["ids"] else None
        except (OSError, ValueError, KeyError):
            return False
        vectors = order = position = None
        name = data.get("vectors")
        if name:
            try:  # memory-mapped: loads at once, shared by the processes of one machine
                vectors = np.load(self.folder / name, mmap_mode="r")
                order = np.load(self.folder / _order_file(name))
                if vectors.ndim != 2 or not vectors.shape[0] == len(order) == len(data["ids"]):
                    raise ValueError("vectors do not match the ids")
                position = np.empty_like(order)
                position[order] = np.arange(len(order), dtype=order.dtype)
            except (OSError, ValueError, IndexError):
                vectors = order = position = None
        with self._lock:
            self._bm25, self.ids, self.meta = model, data["ids"], data["meta"]
            self.version = data.get("version")
            self.df = data.get("df", {})
            self.acronyms = data.get("acronyms", {})
            self.chunk_acronyms = data.get("chunk_acronyms")
            self.sources = data.get("sources")
            self._reset_caches()
            self.vectors, self._order, self._position = vectors, order, position
            self._vectors_file = name if vectors is not None else None
            self._model_dir = data.get("model")
            self._tokens, self._tokens_file = None, data.get("tokens")
        return True

    def _load_tokens(self) -> "_Tokens | None":
        """The saved token lists, when they match the ids (None otherwise)."""
        if not self.folder or not self._tokens_file:
            return None
        tokens = _Tokens.load(self.folder, self._tokens_file)
        return tokens if tokens is not None and len(tokens) == len(self.ids) else None

    def search(self, question_terms: list[str], k: int,
               filters: Filters | None = None) -> list[tuple[str, float]]:
        return self.top(self.scores(question_terms, filters), k)

    def top(self, scores: np.ndarray | None, k: int) -> list[tuple[str, float]]:
        """(chunk id, score) of the ``k`` best chunks with a score above 0."""
        if scores is None:
            return []
        if len(scores) > k:
            top = np.argpartition(-scores, k)[:k]
            top = top[np.argsort(-scores[top])]
        else:
            top = np.argsort(-scores)
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def scores(self, question_terms: list[str],
               filters: Filters | None = None) -> np.ndarray | None:
        """BM25 score of every chunk (0 where a filter rejects it), in ``ids`` order; None
        when no term of the question is in the index."""
        if self._bm25 is None or not question_terms:
            return None
        vocab = self._bm25.vocab_dict
        query = [t for t in question_terms if t in vocab]
        if not query:
            return None
        scores = self._bm25.get_scores(query)
        if filters and not filters.is_empty():
            scores = np.where(self._mask(filters), scores, 0.0)
        return scores

    def rows(self, ids: list[str]) -> list[int | None]:
        """Position of each chunk id in ``ids`` (None for one this index does not hold)."""
        with self._lock:
            if self._rows is None or len(self._rows) != len(self.ids):
                self._rows = {cid: i for i, cid in enumerate(self.ids)}
            rows = self._rows
        return [rows.get(cid) for cid in ids]

    def cosines(self, vector: np.ndarray, ids: list[str]) -> dict[str, float] | None:
        """Cosine of ``vector`` with each chunk in ``ids`` from the kept unit vectors; None
        when this index holds no vectors."""
        vectors, position = self.vectors, self._position
        query = np.asarray(vector, dtype=np.float32).ravel()
        if vectors is None or position is None or vectors.shape[1] != query.shape[0]:
            return None
        query = query / (float(np.linalg.norm(query)) or 1.0)
        found = [(cid, row) for cid, row in zip(ids, self.rows(ids)) if row is not None]
        if not found:
            return {}
        sims = np.take(vectors, position[[row for _, row in found]], axis=0) @ query
        return {cid: float(sim) for (cid, _), sim in zip(found, sims)}

    def dense_search(self, vector: np.ndarray, k: int,
                     filters: Filters) -> list[tuple[str, float]] | None:
        """The ``k`` chunks a filter accepts that are nearest to ``vector`` (cosine), by an
        exact scan of the accepted rows; None when this index holds no vectors (then the
        store's filtered query answers). Exact, so a filter that keeps a handful of chunks
        still finds them; at 100k chunks about 7 ms for an ambito, where Chroma's
        metadata-filtered query takes about 100 ms."""
        ids, vectors, order, position = self.ids, self.vectors, self._order, self._position
        query = np.asarray(vector, dtype=np.float32).ravel()
        if vectors is None or order is None or position is None or k < 1 \
                or not vectors.shape[0] == len(order) == len(ids) \
                or vectors.shape[1] != query.shape[0]:
            return None
        rows = np.flatnonzero(self._mask(filters))
        if rows.size == 0 or rows.size > len(ids):
            return []
        query = query / (float(np.linalg.norm(query)) or 1.0)
        at = position[rows]
        low, high = int(at.min()), int(at.max()) + 1
        if high - low == len(at):  # an ambito, a region, a document: one slice, no copy
            sims = vectors[low:high] @ query
            at = np.arange(low, high)
        else:
            sims = np.take(vectors, at, axis=0) @ query
        if len(sims) > k:
            top = np.argpartition(-sims, k)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
        else:
            top = np.argsort(-sims, kind="stable")
        return [(ids[order[at[i]]], float(sims[i])) for i in top]

    def _mask(self, filters: Filters) -> np.ndarray:
        """Chunks a filter accepts, from per-field columns built once per index version
        (and kept per filter: questions name the same few places again and again)."""
        key = tuple(filters.stored_fields())
        masks = self._masks
        mask = masks.get(key)
        if mask is None or len(mask) != len(self.ids):
            mask = np.ones(len(self.ids), dtype=bool)
            for field, value in key:
                mask &= self._column(field) == value
            if len(masks) >= 256:
                masks.clear()
            masks[key] = mask
        return mask

    def _column(self, key: str) -> np.ndarray:
        if key not in self._columns:
            self._columns[key] = np.array([m.get(key) for m in self.meta], dtype=object)
        return self._columns[key]


def _order_file(vectors_file: str) -> str:
    return vectors_file[:-len(".npy")] + ".order.npy"


def _unit_rows(vectors: np.ndarray | None, rows: int) -> np.ndarray | None:
    """``vectors`` as float32 rows of length one (None when absent or not one per chunk)."""
    if vectors is None:
        return None
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != rows or rows == 0:
        return None
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def _search_text(chunk: StoredChunk) -> str:
    return " ".join(x for x in (chunk.title, chunk.section or "", chunk.text) if x)


EMPTY_TERM = "_vuoto_"  # the one term of a chunk without any (no real term has "_")


class _Tokens:
    """Every chunk's terms, compact: ``vocab`` (the term of each id), ``tokens`` (int32
    term ids of all chunks, one after the other) and ``offsets`` (chunk ``i`` holds
    ``tokens[offsets[i]:offsets[i + 1]]``). Saved as ``<stem>.npy``,
    ``<stem>.offsets.npy`` and ``<stem>.vocab.json`` beside the index."""

    def __init__(self, vocab: list[str], tokens: np.ndarray, offsets: np.ndarray) -> None:
        if len(offsets) < 1 or int(offsets[0]) != 0 or int(offsets[-1]) != len(tokens):
            raise ValueError(f"offsets must run from 0 to {len(tokens)}, got "
                             f"{offsets[:1].tolist()}..{offsets[-1:].tolist()}")
        self.vocab = vocab
        self.tokens = np.asarray(tokens, dtype=np.int32)
        self.offsets = np.asarray(offsets, dtype=np.int64)

    @classmethod
    def from_docs(cls, vocab: list[str], docs: list[list[int]]) -> "_Tokens":
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.fromiter(chain.from_iterable(docs), dtype=np.int32,
                             count=int(offsets[-1]))
        return cls(vocab, tokens, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def doc(self, row: int) -> np.ndarray:
        return self.tokens[self.offsets[row]:self.offsets[row + 1]]

    def select(self, rows: np.ndarray) -> "_Tokens":
        """The chunks ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = np.diff(self.offsets)[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        at = np.repeat(self.offsets[rows] - offsets[:-1], lengths) + \
            np.arange(int(offsets[-1]), dtype=np.int64)
        return _Tokens(self.vocab, self.tokens[at], offsets)

    def extend(self, vocab: list[str], docs: list[list[int]]) -> "_Tokens":
        """These chunks followed by ``docs`` (ids in ``vocab``, which extends this one's)."""
        if vocab[:len(self.vocab)] != self.vocab:
            raise ValueError("the new vocabulary must extend the old one")
        more = _Tokens.from_docs(vocab, docs)
        return _Tokens(vocab, np.concatenate([self.tokens, more.tokens]),
                       np.concatenate([self.offsets, more.offsets[1:] + self.offsets[-1]]))

    def compact(self) -> "_Tokens":
        """The same chunks with only the terms they use in the vocabulary."""
        used = np.unique(self.tokens)
        if len(used) == len(self.vocab):
            return self
        remap = np.full(len(self.vocab), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return _Tokens([self.vocab[i] for i in used], remap[self.tokens], self.offsets)

    def lists(self) -> list[list[int]]:
        flat, offsets = self.tokens.tolist(), self.offsets.tolist()
        return [flat[a:b] for a, b in zip(offsets, offsets[1:])]

    @staticmethod
    def files(stem: str) -> tuple[str, str, str]:
        return f"{stem}.npy", f"{stem}.offsets.npy", f"{stem}.vocab.json"

    def save(self, folder: Path, stem: str) -> None:
        tokens, offsets, vocab = self.files(stem)
        _save_array(folder / tokens, self.tokens)
        _save_array(folder / offsets, self.offsets)
        tmp = folder / (vocab + ".tmp")
        tmp.write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / vocab)

    @classmethod
    def load(cls, folder: Path, stem: str) -> "_Tokens | None":
        """The saved token lists; None when missing, unreadable or inconsistent."""
        tokens_name, offsets_name, vocab_name = cls.files(stem)
        try:
            vocab = json.loads((folder / vocab_name).read_text(encoding="utf-8"))
            tokens = np.load(folder / tokens_name)
            offsets = np.load(folder / offsets_name)
            if not isinstance(vocab, list) or tokens.ndim != 1 or offsets.ndim != 1 \
                    or tokens.dtype.kind != "i" or offsets.dtype.kind != "i" \
                    or (len(tokens) and not 0 <= int(tokens.min()) <= int(tokens.max())
                        < len(vocab)) or np.any(np.diff(offsets) < 0):
                return None
            return cls([str(t) for t in vocab], tokens, offsets)
        except (OSError, ValueError, TypeError):
            return None


def _chunk_terms(chunk: StoredChunk) -> list[str]:
    return terms(_search_text(chunk)) or [EMPTY_TERM]


def _bm25_model(docs: list[list[int]], vocab: dict[str, int]) -> Any:
    """A bm25s model over chunks given as term ids (``vocab``: term -> id, ids 0..n-1);
    the same scores as indexing the terms themselves, without converting them again."""
    import bm25s

    if not docs:
        return None
    model = bm25s.BM25()
    model.index((docs, dict(vocab)), show_progress=False)
    return model


def _union_acronyms(ids: list[str], found: dict[str, dict[str, str]]) -> dict[str, str]:
    """Acronym -> phrase over the chunks in ``ids`` order; the first chunk defining one
    wins."""
    acronyms: dict[str, str] = {}
    for cid in ids:
        for acro, phrase in found.get(cid, {}).items():
            acronyms.setdefault(acro, phrase)
    return acronyms


def _being_written(path: Path) -> bool:
    """A temporary file or folder of a save in progress (another process's, perhaps); one
    left by a crash is removed after an hour."""
    if not path.name.endswith(".tmp"):
        return False
    try:
        return time.time() - path.stat().st_mtime < 3600
    except OSError:
        return True


def _save_array(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array))
    tmp.replace(path)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each retriever (or None)."""

    chunk: StoredChunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float = 0.0


class Retriever:
    """Top chunks for a question: ``dense``, ``bm25`` or ``hybrid``, fused by scaled scores
    (``fusion="scores"``, the default setting) or by reciprocal ranks (``"rrf"``)."""

    def __init__(self, store: ChunkStore, embedder: Embedder, bm25: BM25Index,
                 mode: str = "hybrid", candidates: int = 20, rrf_k: int = 60,
                 dense_weight: float = 1.0, fusion: str = "scores",
                 dense_share: float = 0.2) -> None:
        if mode not in ("dense", "bm25", "hybrid"):
            raise ValueError(f"mode must be dense, bm25 or hybrid, got {mode!r}")
        if fusion not in ("rrf", "scores"):
            raise ValueError(f"fusion must be rrf or scores, got {fusion!r}")
        if not 0.0 <= dense_share <= 1.0:
            raise ValueError(f"dense_share must be between 0 and 1, got {dense_share!r}")
        if candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {candidates!r}")
        self.store = store
        self.embedder = embedder
        self.bm25 = bm25
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.fusion = fusion
        self.dense_share = dense_share

    def retrieve(self, question: str, k: int, filters: Filters | None = None,
                 extra_terms: list[str] | None = None,
                 lexical_terms: list[str] | None = None) -> list[Hit]:
        """Top ``k`` chunks for ``question`` (embedded for the dense side). The lexical
        side searches ``lexical_terms`` when given, else the question's terms plus
        ``extra_terms``."""
        filters = filters or Filters()
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        vector = None
        if self.mode in ("dense", "hybrid"):
            vector = self.embedder.embed_query(question)
            dense = self._dense(vector, filters)
        all_lexical = None
        if self.mode in ("bm25", "hybrid"):
            query_terms = lexical_terms if lexical_terms is not None else \
                terms(question) + list(extra_terms or [])
            all_lexical = self.bm25.scores(query_terms, filters)
            lexical = self.bm25.top(all_lexical, self.candidates)
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense)}
        bm25_rank = {cid: r for r, (cid, _) in enumerate(lexical)}
        dense_scores = dict(dense)
        scores = None
        if self.fusion == "scores" and dense and lexical and vector is not None:
            scores = self._score_fusion(vector, dense_scores, dict(lexical), all_lexical)
        if scores is None:  # reciprocal-rank fusion (or a single retriever)
            scores = {}
            for rank_map, weight in ((dense_rank, self.dense_weight), (bm25_rank, 1.0)):
                for cid, rank in rank_map.items():
                    scores[cid] = scores.get(cid, 0.0) + weight / (self.rrf_k + rank + 1)
        order = sorted(scores, key=lambda cid: -scores[cid])[:k]
        # every hit carries its cosine, whichever retriever found it: the answer model reads
        # it (lexical-only search embeds the question for this, from the kept vectors)
        missing = [cid for cid in order if cid not in dense_scores]
        if missing and self.embedder is not None:
            if vector is None:
                vector = self.embedder.embed_query(question)
            dense_scores.update(self.bm25.cosines(vector, missing) or {})
        # texts and metadata only for the chunks kept
        known = {c.id: c for c in self.store.get(order)}
        return [Hit(_scored(known[cid], dense_scores.get(cid, 0.0)), scores[cid],
                     dense_rank.get(cid), bm25_rank.get(cid), dense_scores.get(cid, 0.0))
                for cid in order if cid in known]

    def _score_fusion(self, vector: np.ndarray, dense: dict[str, float],
                      lexical: dict[str, float],
                      all_lexical: np.ndarray | None) -> dict[str, float] | None:
        """Both retrievers' scores for every candidate either of them found (the BM25 score
        of a dense candidate, the cosine of a lexical one), each scaled to 0..1 over the
        candidates and mixed, ``dense_share`` for the dense side. Unlike rank fusion, a
        chunk that one retriever ranks far ahead is not overtaken by one that both rank
        middling. None when the lexical index keeps no vectors (rank fusion then)."""
        union = list(dict.fromkeys([*lexical, *dense]))
        missing = [cid for cid in union if cid not in dense]
        cosines = self.bm25.cosines(vector, missing) if missing else {}
        if cosines is None:
            return None
        cos = {**cosines, **dense}
        bm = dict(lexical)
        for cid, row in zip(union, self.bm25.rows(union)):
            if cid not in bm:
                bm[cid] = float(all_lexical[row]) if all_lexical is not None \
                    and row is not None else 0.0
        top_bm = max(bm.values()) or 1.0
        low = min(cos.get(c, 0.0) for c in union)
        span = (max(cos.get(c, 0.0) for c in union) - low) or 1.0
        share = self.dense_share
        return {cid: (1 - share) * bm[cid] / top_bm + share * (cos.get(cid, low) - low) / span
                for cid in union}

    def _dense(self, vector: np.ndarray, filters: Filters) -> list[tuple[str, float]]:
        """(chunk id, cosine) of the nearest chunks: the store's HNSW index without a
        filter; with one, an exact scan of the rows the filter accepts (the lexical index
        keeps their vectors and metadata), or the store's filtered query when it cannot."""
        where = None
        if not filters.is_empty():
            found = self.bm25.dense_search(vector, self.candidates, filters)
            if found is not None:
                return found
            where = filters.where()
        return self.store.search_ids(vector, self.candidates, where)


def _scored(chunk: StoredChunk, score: float) -> StoredChunk:
    return chunk if chunk.score == score else StoredChunk(chunk.id, chunk.text,
                                                          chunk.metadata, score)


def place_names(meta_rows: list[dict[str, Any]],
                aliases: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Place name (normalised) -> the filter it stands for: ``("ambito", X)`` for an ambito
    and each of its comuni, ``("region", R)`` for a region, from the catalog metadata
    stored with the chunks. ``aliases`` maps extra words to regions ("nazionale": "Italia")."""
    places: dict[str, tuple[str, str]] = {}
    regions: set[str] = set()
    for meta in meta_rows:
        if meta.get("region"):
            regions.add(str(meta["region"]))
        ambito = meta.get("ambito")
        if not ambito:
            continue
        places.setdefault(normalize(str(ambito)), ("ambito", str(ambito)))
        for comune in str(meta.get("comuni", "")).split("|"):
            if comune.strip():
                places.setdefault(normalize(comune.strip()), ("ambito", str(ambito)))
    for region in regions:
        places.setdefault(normalize(region), ("region", region))
    for alias, region in (aliases or {}).items():
        if region in regions:
            places.setdefault(normalize(alias), ("region", region))
    return places
