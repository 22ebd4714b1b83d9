"""The lexical side of retrieval: bm25s over the stemmed Italian terms of every chunk (title
and section included), with each chunk's term ids kept so that an ingest updates the
index by tokenising only the chunks that changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import save_array, write_text
from .chunk import Chunk
from .text import terms

EMPTY_TERM = "_vuoto_"  # the one term of a chunk without any (no real term has "_")


def chunk_terms(chunk: Chunk) -> list[str]:
    """The terms a chunk is found by: its title, section and text."""
    text = " ".join(x for x in (chunk.title, chunk.section or "", chunk.text) if x)
    return terms(text) or [EMPTY_TERM]


def bm25_model(docs: list[list[int]], vocab: dict[str, int]) -> Any:
    """A bm25s model over chunks given as term ids (``vocab``: term -> id, ids 0..n-1);
    the same scores as indexing the terms themselves, without converting them again.
    None for no chunks."""
    import bm25s

    if not docs:
        return None
    model = bm25s.BM25()
    model.index((docs, dict(vocab)), show_progress=False)
    return model


class TokenLists:
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
    def from_docs(cls, vocab: list[str], docs: list[list[int]]) -> TokenLists:
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.fromiter(chain.from_iterable(docs), dtype=np.int32,
                             count=int(offsets[-1]))
        return cls(vocab, tokens, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def doc(self, row: int) -> np.ndarray:
        return self.tokens[self.offsets[row]:self.offsets[row + 1]]

    def select(self, rows: np.ndarray) -> TokenLists:
        """The chunks ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = np.diff(self.offsets)[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        at = np.repeat(self.offsets[rows] - offsets[:-1], lengths) + \
            np.arange(int(offsets[-1]), dtype=np.int64)
        return TokenLists(self.vocab, self.tokens[at], offsets)

    def extend(self, vocab: list[str], docs: list[list[int]]) -> TokenLists:
        """These chunks followed by ``docs`` (ids in ``vocab``, which extends this one's)."""
        if vocab[:len(self.vocab)] != self.vocab:
            raise ValueError("the new vocabulary must extend the old one")
        more = TokenLists.from_docs(vocab, docs)
        return TokenLists(vocab, np.concatenate([self.tokens, more.tokens]),
                          np.concatenate([self.offsets, more.offsets[1:] + self.offsets[-1]]))

    def compact(self) -> TokenLists:
        """The same chunks with only the terms they use in the vocabulary."""
        used = np.unique(self.tokens)
        if len(used) == len(self.vocab):
            return self
        remap = np.full(len(self.vocab), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return TokenLists([self.vocab[i] for i in used], remap[self.tokens], self.offsets)

    def lists(self) -> list[list[int]]:
        flat, offsets = self.tokens.tolist(), self.offsets.tolist()
        return [flat[a:b] for a, b in zip(offsets, offsets[1:])]

    @staticmethod
    def files(stem: str) -> tuple[str, str, str]:
        return f"{stem}.npy", f"{stem}.offsets.npy", f"{stem}.vocab.json"

    def save(self, folder: Path, stem: str) -> None:
        tokens, offsets, vocab = self.files(stem)
        save_array(folder / tokens, self.tokens)
        save_array(folder / offsets, self.offsets)
        write_text(folder / vocab, json.dumps(self.vocab, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, stem: str) -> TokenLists | None:
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


class LexicalIndex:
    """BM25 scores over the chunks ``ids`` (rows in that order), their document frequencies
    ``df`` and their token lists. Not changed once made: :meth:`build` and :meth:`updated`
    return new indexes, so the one questions read is never touched while another is made.

    The token lists are read from ``folder`` only when an update needs them (a loaded index
    answers questions without them).
    """

    def __init__(self, ids: Sequence[str], model: Any, df: dict[str, int],
                 tokens: TokenLists | None = None, *, folder: Path | None = None,
                 tokens_file: str | None = None, model_dir: str | None = None) -> None:
        if tokens is not None and len(tokens) != len(ids):
            raise ValueError(f"tokens must hold one list per chunk ({len(ids)}), "
                             f"got {len(tokens)}")
        self.ids = list(ids)
        self.df = df
        self._model = model
        self._tokens = tokens
        self._folder = folder
        self._tokens_file = tokens_file  # where the token lists are saved, when they are
        self._model_dir = model_dir

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> LexicalIndex:
        """Index ``chunks`` (rows in their order)."""
        vocab: dict[str, int] = {}
        docs = [[vocab.setdefault(t, len(vocab)) for t in chunk_terms(c)] for c in chunks]
        counts = np.zeros(len(vocab), dtype=np.int64)
        for doc in docs:
            counts[list(set(doc))] += 1
        terms_list = list(vocab)
        df = {terms_list[i]: int(n) for i, n in enumerate(counts)}
        return cls([c.id for c in chunks], bm25_model(docs, vocab), df,
                   TokenLists.from_docs(terms_list, docs))

    def token_lists(self) -> TokenLists | None:
        """Every chunk's term ids: in memory, or read from the saved files (None when
        there are none, or they do not match the ids)."""
        if self._tokens is None and self._folder is not None and self._tokens_file:
            tokens = TokenLists.load(self._folder, self._tokens_file)
            if tokens is not None and len(tokens) == len(self.ids):
                self._tokens = tokens  # a cache: the same lists every time
        return self._tokens

    def updated(self, kept_rows: np.ndarray, added: Sequence[Chunk],
                perm: np.ndarray) -> LexicalIndex | None:
        """A new index over the rows ``kept_rows`` of this one followed by ``added`` (only
        they are tokenised), put in the order ``perm`` (positions in that combined list):
        the index :meth:`build` would give over the final chunks, with the same scores
        and df. None when this index cannot be updated (no token lists, or the saved df
        and token lists disagree): a build is needed."""
        tokens = self.token_lists()
        if tokens is None:
            return None
        kept = set(kept_rows.tolist())
        df = dict(self.df)
        vocab_terms = list(tokens.vocab)
        for row in (r for r in range(len(self.ids)) if r not in kept):  # leaving df
            for term_id in np.unique(tokens.doc(row)):
                term = vocab_terms[term_id]
                left = df.get(term, 0) - 1
                if left > 0:
                    df[term] = left
                else:
                    df.pop(term, None)
        vocab = {t: i for i, t in enumerate(vocab_terms)}
        new_docs = [[vocab.setdefault(t, len(vocab)) for t in chunk_terms(c)] for c in added]
        vocab_terms = list(vocab)
        for doc in new_docs:
            for term_id in set(doc):
                term = vocab_terms[term_id]
                df[term] = df.get(term, 0) + 1
        merged = tokens.select(kept_rows).extend(vocab_terms, new_docs).select(perm).compact()
        if len(merged.vocab) != len(df) or set(merged.vocab) != set(df):
            return None  # the saved df and token lists disagree: rebuild
        names = [self.ids[i] for i in kept_rows.tolist()] + [c.id for c in added]
        model = bm25_model(merged.lists(), {t: i for i, t in enumerate(merged.vocab)})
        return LexicalIndex([names[i] for i in perm.tolist()], model, df, merged)

    # ---- questions -----------------------------------------------------------------------
    def scores(self, question_terms: Sequence[str],
               accepted: np.ndarray | None = None) -> np.ndarray | None:
        """BM25 score of every chunk (0 where ``accepted``, a row mask, is False), in
        ``ids`` order; None when no term of the question is in the index."""
        if self._model is None or not question_terms:
            return None
        vocab = self._model.vocab_dict
        query = [t for t in question_terms if t in vocab]
        if not query:
            return None
        scores: np.ndarray = np.asarray(self._model.get_scores(query))
        if accepted is not None:
            scores = np.where(accepted, scores, 0.0)
        return scores

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

    def search(self, question_terms: Sequence[str], k: int,
               accepted: np.ndarray | None = None) -> list[tuple[str, float]]:
        """:meth:`top` of :meth:`scores`."""
        return self.top(self.scores(question_terms, accepted), k)

    # ---- on disk -------------------------------------------------------------------------
    def save(self, folder: Path) -> dict[str, Any]:
        """Write the model and the token lists under new names in ``folder`` (once: a saved
        index is not written again) and return the fields the index file names them by."""
        import uuid

        if self._folder != folder:
            self._model_dir = self._tokens_file = None
        if self._model is not None and self._model_dir is None:
            model_dir = f"model-{uuid.uuid4().hex[:12]}"
            tmp_dir = folder / (model_dir + ".tmp")
            self._model.save(str(tmp_dir))
            tmp_dir.replace(folder / model_dir)
            self._model_dir = model_dir
        tokens = self._tokens
        if tokens is not None and self._tokens_file is None:
            stem = f"tokens-{uuid.uuid4().hex[:12]}"
            tokens.save(folder, stem)
            self._tokens_file = stem
        self._folder = folder
        return {"df": self.df, "model": self._model_dir, "tokens": self._tokens_file}

    def files(self) -> set[str]:
        """The names in the folder this index was saved to or loaded from."""
        names = set(TokenLists.files(self._tokens_file)) if self._tokens_file else set()
        return names | ({self._model_dir} if self._model_dir else set())

    @classmethod
    def load(cls, folder: Path, ids: list[str], data: dict[str, Any]) -> LexicalIndex:
        """The index saved in ``folder`` for ``ids``, from the index file's fields
        (``model``, ``tokens``, ``df``); OSError or ValueError when unreadable."""
        import bm25s

        model_dir = data.get("model") or "model"
        model = bm25s.BM25.load(str(folder / model_dir)) if ids else None
        return cls(ids, model, data.get("df", {}), folder=folder,
                   tokens_file=data.get("tokens"), model_dir=data.get("model"))
