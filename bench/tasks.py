"""The benchmarks, one function each. ``bench.run`` starts every one in a fresh Python
process (``python -m bench.run --task NAME --args JSON``) so that its peak resident memory
(``ru_maxrss``, which also counts numpy, Chroma's Rust core and the model) is its own."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

TASKS: dict[str, Callable[..., dict]] = {}


def task(fn: Callable[..., dict]) -> Callable[..., dict]:
    TASKS[fn.__name__] = fn
    return fn


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99, mean and max of timings in seconds, reported in milliseconds."""
    if not values:
        return {}
    arr = np.asarray(values) * 1000.0
    return {"n": len(values), "p50_ms": round(float(np.percentile(arr, 50)), 2),
            "p95_ms": round(float(np.percentile(arr, 95)), 2),
            "p99_ms": round(float(np.percentile(arr, 99)), 2),
            "mean_ms": round(float(arr.mean()), 2), "max_ms": round(float(arr.max()), 2)}


def disk_usage(folder: Path) -> dict[str, int]:
    """Bytes on disk under ``folder`` and under each of its direct subfolders."""
    folder = Path(folder)
    out: dict[str, int] = {"total": 0}
    if not folder.exists():
        return out
    for path in folder.rglob("*"):
        if path.is_file():
            size = path.stat().st_blocks * 512
            out["total"] += size
            top = path.relative_to(folder).parts[0]
            out[top] = out.get(top, 0) + size
    return out


def _settings(index_dir: str, embedder: str, corpus_dir: str | None = None, **extra: Any):
    from assistant import Settings

    return Settings(corpus_dir=Path(corpus_dir or "corpus"), index_dir=Path(index_dir),
                    embedder=embedder, **extra)


def _assistant(index_dir: str, embedder: str, variant: str | None = None, **extra: Any):
    from assistant import Assistant

    from .proposals import make_variant

    settings = _settings(index_dir, embedder, **extra)
    return Assistant(settings, embedder=make_variant(variant, settings))


# ---- ingestion -------------------------------------------------------------------------------
@task
def pypdf_baseline(pdfs: list[str]) -> dict:
    """Plain pypdf text extraction of every page: the floor for any PDF ingest."""
    from pypdf import PdfReader

    started = time.perf_counter()
    pages = chars = 0
    for pdf in pdfs:
        for page in PdfReader(pdf).pages:
            chars += len(page.extract_text() or "")
            pages += 1
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "pages": pages, "chars": chars,
            "pages_per_s": round(pages / seconds, 1)}


@task
def ingest(corpus_dir: str, index_dir: str, embedder: str, variant: str | None = None) -> dict:
    """The real pipeline end to end (parse, clean+chunk, embed, store, BM25), then the same
    folder again, unchanged, to show nothing is re-embedded. ``variant`` names a proposed
    embedder from ``bench.proposals`` instead of the shipped one."""
    from assistant import Assistant

    from .proposals import make_variant

    settings = _settings(index_dir, embedder, corpus_dir)
    started = time.perf_counter()
    bot = Assistant(settings, embedder=make_variant(variant, settings))
    bot.embedder.warm_up()
    load = time.perf_counter() - started
    t0 = time.perf_counter()
    report = bot.ingest()
    total = time.perf_counter() - t0
    stages = dict(report.stage_seconds)
    stages["bm25_and_state"] = total - report.seconds
    t1 = time.perf_counter()
    again = bot.ingest()
    unchanged = time.perf_counter() - t1
    bot.close()  # joins the embedding workers, so that their usage below is counted
    import resource

    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"variant": variant or "shipped", "model_load_s": round(load, 2),
            # forked embedding workers: the largest one's resident set (most of it pages
            # shared with this process) and their CPU time
            "workers_maxrss_mb": round(workers.ru_maxrss / 1024, 1),
            "workers_cpu_s": round(workers.ru_utime + workers.ru_stime, 2),
            "seconds": round(total, 2),
            "pages": report.pages, "chunks": report.chunks_added,
            "files": report.files_indexed, "skipped": len(report.skipped),
            "pages_per_s": round(report.pages / total, 2),
            "chunks_per_s": round(report.chunks_added / total, 2),
            "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
            "reingest_unchanged_s": round(unchanged, 2),
            "reingest_embedded": again.chunks_added,
            "disk_bytes": disk_usage(Path(index_dir))}


# ---- synthetic stores ------------------------------------------------------------------------
@task
def build_store(index_dir: str, n_chunks: int, seed: int, embedder: str, sample: int = 1000,
                noise: float = 0.5, cache_dir: str | None = None) -> dict:
    """A store of ``n_chunks`` real-looking chunks from the generator, chunked by the real
    chunker and stored through ``ChunkStore.add``. The first ``sample`` chunks are embedded
    by the real model; every other chunk gets a sampled real vector plus Gaussian noise
    (cosine about 0.9 to it), which keeps the vector distribution of real text."""
    from assistant import Assistant
    from assistant.ingestion.catalog import Catalog
    from assistant.ingestion.chunking import Chunker
    from assistant.ingestion.readers import Page
    from assistant.store import Manifest

    from .corpus import PlanWriter

    settings = _settings(index_dir, embedder)
    bot = Assistant(settings)
    chunker = Chunker(settings.chunk_size, settings.chunk_overlap)
    writer = PlanWriter(seed)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    docs: list[tuple[str, dict, list]] = []
    count = 0
    pages_estimate = max(4, int(n_chunks / 4.2) + 4)
    for index, (plan, pages) in enumerate(writer.text_pages(pages_estimate * 2, salt="store")):
        source = f"sintetico/{index:05d}.txt"
        chunks = chunker.chunk(source, [Page(t, i + 1) for i, t in enumerate(pages)])
        chunks = chunks[: n_chunks - count]
        docs.append((source, plan, chunks))
        count += len(chunks)
        if count >= n_chunks:
            break
    timings["generate_and_chunk"] = time.perf_counter() - t0

    catalog = Catalog.load(Path("/nonexistent"))
    texts = [c.embed_text(plan["title"]) for _s, plan, chunks in docs for c in chunks]
    t1 = time.perf_counter()
    bot.embedder.warm_up()
    timings["model_load"] = time.perf_counter() - t1
    head = texts[:sample]
    key = hashlib.sha256(("\x1e".join(head) + bot.embedder.name).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"sample-{key}.npy" if cache_dir else None
    t2 = time.perf_counter()
    if cache and cache.is_file():
        real = np.load(cache)
        timings["embed_sample_cached"] = 1.0
    else:
        real = bot.embedder.embed_passages(head)
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, real)
    timings["embed_sample"] = time.perf_counter() - t2
    rng = np.random.default_rng(seed)
    vectors = np.empty((len(texts), real.shape[1]), dtype=np.float32)
    vectors[: len(real)] = real
    rest = len(texts) - len(real)
    if rest > 0:
        base = real[rng.integers(0, len(real), rest)]
        noisy = base + rng.normal(0, noise / np.sqrt(real.shape[1]), base.shape)
        vectors[len(real):] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)

    t3 = time.perf_counter()
    manifest = Manifest(Path(index_dir) / "manifest.json")
    manifest.signature = f"{bot.embedder.name}|{chunker.signature}"
    offset = 0
    for source, plan, chunks in docs:
        from assistant.ingestion.catalog import DocumentInfo

        info = DocumentInfo(title=plan["title"], doc_type=plan["type"], ambito=plan["ambito"],
                            comuni=tuple(plan["comuni"]), region=plan["region"],
                            province=plan["province"], year=plan["year"])
        meta = info.as_metadata()
        nodes = [c.with_document(meta) for c in chunks]
        bot.store.add(nodes, vectors[offset: offset + len(nodes)])
        offset += len(nodes)
        manifest.files[source] = {"hash": hashlib.sha256(source.encode()).hexdigest(),
                                  "pages": max((c.page or 1) for c in chunks) if chunks else 0,
                                  "chunks": len(chunks), "title": plan["title"],
                                  "indexed_at": time.time()}
    manifest.save()
    timings["store_add"] = time.perf_counter() - t3
    del catalog
    t4 = time.perf_counter()
    bot.refresh(force=True)
    timings["refresh_bm25_state"] = time.perf_counter() - t4
    return {"chunks": bot.store.count(), "documents": len(docs), "real_embedded": len(real),
            "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
            "store_chunks_per_s": round(len(texts) / timings["store_add"], 1),
            "disk_bytes": disk_usage(Path(index_dir))}


# ---- queries ---------------------------------------------------------------------------------
def _questions(seed: int, n: int, salt: str) -> list[str]:
    from .corpus import PlanWriter

    return PlanWriter(seed).questions(n, salt)


@task
def query(index_dir: str, embedder: str, seed: int, n: int = 200,
          variant: str | None = None) -> dict:
    """Latency of retrieval alone and of full extractive answers, on questions never seen
    before (the query-embedding cache is cold), then of the same answers again (cache hot)."""
    started = time.perf_counter()
    bot = _assistant(index_dir, embedder, variant)
    bot.warm_up()
    load = time.perf_counter() - started
    retrieval_q = _questions(seed, n, "retrieval")
    answer_q = _questions(seed, n, "answer")
    k = bot.settings.top_k
    embed_times, retrieval_times, answer_times, cached_times = [], [], [], []
    for q in retrieval_q[:5]:  # warm code paths, not the cache of the measured questions
        bot.retriever.retrieve(q + " prova", k)
    for q in retrieval_q:
        t0 = time.perf_counter()
        bot.embedder.embed_query(q + " ?")
        embed_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bot.retriever.retrieve(q, k)
        retrieval_times.append(time.perf_counter() - t0)
    refused = 0
    for q in answer_q:
        t0 = time.perf_counter()
        answer = bot.ask(q)
        answer_times.append(time.perf_counter() - t0)
        refused += answer.refused
    for q in answer_q:
        t0 = time.perf_counter()
        bot.ask(q)
        cached_times.append(time.perf_counter() - t0)
    return {"variant": variant or "shipped", "chunks": bot.store.count(),
            "load_s": round(load, 2),
            "embed_query": percentiles(embed_times),
            "retrieval": percentiles(retrieval_times), "answer": percentiles(answer_times),
            "answer_cached_embedding": percentiles(cached_times),
            "refused_share": round(refused / max(1, len(answer_q)), 3)}


@task
def bm25_baseline(index_dir: str, embedder: str, seed: int, n: int = 200) -> dict:
    """Plain bm25s (its own tokenizer and Italian stemmer, top 20) over the same chunk texts:
    the baseline for retrieval latency."""
    import bm25s
    import Stemmer

    from assistant.store import ChunkStore

    from assistant import HashingEmbedder

    settings = _settings(index_dir, embedder)
    store = ChunkStore(settings, HashingEmbedder(), create=False)
    texts = [c.text for c in store.iter_chunks()]
    stemmer = Stemmer.Stemmer("italian")
    t0 = time.perf_counter()
    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords="it", stemmer=stemmer, show_progress=False),
                show_progress=False)
    build = time.perf_counter() - t0
    times = []
    for q in _questions(seed, n, "retrieval"):
        t0 = time.perf_counter()
        tokens = bm25s.tokenize([q], stopwords="it", stemmer=stemmer, show_progress=False)
        model.retrieve(tokens, k=min(20, len(texts)), show_progress=False, n_threads=1)
        times.append(time.perf_counter() - t0)
    return {"chunks": len(texts), "index_build_s": round(build, 2),
            "query": percentiles(times)}


@task
def startup(index_dir: str, embedder: str, question: str, spawned_at: float,
            variant: str | None = None) -> dict:
    """Process start to first answer over an existing index (as the app or CLI starts)."""
    import_end = time.time()
    from assistant import Assistant  # noqa: F401  (timed: the import is part of start-up)
    from assistant.env import configure_offline_environment

    configure_offline_environment()
    imported = time.time()
    bot = _assistant(index_dir, embedder, variant)
    answer = bot.ask(question)
    done = time.time()
    return {"interpreter_s": round(import_end - spawned_at, 2),
            "imports_s": round(imported - import_end, 2),
            "first_answer_s": round(done - imported, 2),
            "total_s": round(done - spawned_at, 2), "refused": answer.refused}


@task
def concurrency(index_dir: str, embedder: str, seed: int, users: list[int],
                seconds: float = 20.0, variant: str | None = None) -> dict:
    """Answers per second with N threads each asking its own fresh questions to one
    shared Assistant (as Gradio's worker threads do)."""
    bot = _assistant(index_dir, embedder, variant)
    bot.warm_up()
    pool = _questions(seed, 4000, "concurrency")
    out = {}
    cursor = [0]
    lock = threading.Lock()

    def next_question() -> str:
        with lock:
            cursor[0] += 1
            return pool[cursor[0] % len(pool)]

    bot.ask(pool[0])
    for n_users in users:
        latencies: list[float] = []
        errors: list[str] = []
        stop = time.perf_counter() + seconds

        def user() -> None:
            while time.perf_counter() < stop:
                q = next_question()
                t0 = time.perf_counter()
                try:
                    bot.ask(q)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(repr(exc)[:200])
                latencies.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=user) for _ in range(n_users)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        out[str(n_users)] = {"answers": len(latencies),
                             "answers_per_s": round(len(latencies) / wall, 2),
                             "latency": percentiles(latencies), "errors": len(errors),
                             "first_error": errors[0] if errors else None}
    return {"variant": variant or "shipped", "chunks": bot.store.count(), "per_users": out}


def run_task(name: str, args: dict) -> dict:
    import resource

    from assistant.env import configure_offline_environment

    configure_offline_environment()
    result = TASKS[name](**args)
    result["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["cpu_s"] = round(sum(os.times()[:2]), 2)
    return result


def summary_stats(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)
