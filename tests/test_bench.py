"""The benchmark harness: a reproducible corpus generator, honest statistics, and one small
end-to-end run of ``python -m bench.run`` in subprocesses (hashing embedder)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import PlanWriter, euro, make_corpus, pdf_sizes, write_pdf
from bench.report import markdown
from bench.tasks import disk_usage, percentiles

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def writer():
    return PlanWriter(11)


def test_same_seed_same_pdf_bytes_other_seed_other_text(tmp_path, writer):
    plan = writer.document_plan(0)
    write_pdf(writer, tmp_path / "a.pdf", 3, plan, "x")
    write_pdf(PlanWriter(11), tmp_path / "b.pdf", 3, plan, "x")
    write_pdf(PlanWriter(12), tmp_path / "c.pdf", 3, plan, "x")
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.pdf", "b.pdf", "c.pdf"))
    assert a == b
    assert a != c


def test_pdf_has_the_pages_asked_and_plan_like_extractable_text(tmp_path, writer):
    from pypdf import PdfReader

    plan = writer.document_plan(3)
    assert write_pdf(writer, tmp_path / "p.pdf", 12, plan, "y") == 12
    pages = [p.extract_text() for p in PdfReader(tmp_path / "p.pdf").pages]
    assert len(pages) == 12
    text = "\n".join(pages)
    assert "Indice" in pages[1] and "....." in pages[1]  # contents with leader dots
    assert "Pagina 7" in pages[6]  # running footer
    assert "€" in text and "Importo" in text  # tables with amounts survive extraction
    assert "•" in text  # bullet lists
    assert plan["ambito"] in text
    assert sum(len(p.split()) for p in pages[2:]) / 10 > 250  # dense pages, like real plans


def test_corpus_sizes_and_catalog(tmp_path):
    rng = random.Random(1)
    for total in (10, 57, 2000):
        sizes = pdf_sizes(total, rng)
        assert sum(sizes) == total and all(10 <= s <= 500 for s in sizes)
    with pytest.raises(ValueError):
        pdf_sizes(5, rng)
    info = make_corpus(tmp_path / "c", 25, seed=3, text_files=1, text_words=300)
    import yaml

    catalog = yaml.safe_load((tmp_path / "c" / "catalog.yaml").read_text())["documents"]
    assert info["pdf_pages"] == 25 and len(catalog) == info["pdf_files"] + 1
    entry = next(iter(catalog.values()))
    assert {"title", "type", "ambito", "comuni", "region", "year"} <= set(entry)
    assert (tmp_path / "c" / next(k for k in catalog if k.endswith(".txt"))).stat().st_size > 1000


def test_questions_are_distinct_reproducible_and_name_places(writer):
    qs = writer.questions(300, "t")
    assert len(set(qs)) == 300 and qs == PlanWriter(11).questions(300, "t")
    comuni = {c for cs in writer.vocab["ambiti"].values() for c in cs} | set(writer.ambiti)
    assert sum(any(c in q for c in comuni) for q in qs) > 150


def test_euro_and_percentiles_and_disk_usage(tmp_path):
    assert euro(1234567.5) == "1.234.567,50" and euro(500) == "500,00"
    stats = percentiles([i / 1000 for i in range(1, 101)])  # 1..100 ms
    assert stats["n"] == 100 and stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p95_ms"] == pytest.approx(95.05) and stats["max_ms"] == 100.0
    assert percentiles([]) == {}
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * 10000)
    usage = disk_usage(tmp_path)
    assert usage["total"] >= 10000 and usage["a"] == usage["total"]


@pytest.mark.slow
def test_a_small_run_end_to_end(tmp_path):
    """Every step in its own process, JSON saved, Markdown rendered, memory measured."""
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--embedder", "hashing", "--only",
         "query", "--scales", "150", "--questions", "12", "--data", str(tmp_path / "data"), "--out",
         str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    q = results["query"]["150"]
    assert q["chunks"] == 150 and q["maxrss_mb"] > 50
    assert q["answer"]["n"] == 12 and q["answer"]["p95_ms"] >= q["answer"]["p50_ms"] > 0
    assert q["baseline_bm25s"]["query"]["n"] == 12 and q["ratio_to_bm25s"]["answer_p95"] > 0
    assert results["stores"]["150"]["disk_bytes"]["chroma"] > 0
    assert results["machine"]["nproc"] >= 1 and results["machine"]["packages"]["chromadb"]
    assert "### Query latency (ms)" in proc.stdout and "| 150 | answer |" in markdown(results)


@pytest.mark.slow
def test_use_worker_pool_gives_the_in_process_vectors():
    """The shipped USE embedder spreads large passage batches over forked workers: not a
    single embedding may change, small batches and questions stay in this process, and
    close() stops the workers."""
    import multiprocessing

    from assistant.embedding.models import USEEmbedder

    texts = [f"Il servizio di assistenza domiciliare n. {i} dell'ambito di Casarano è "
             f"rivolto agli anziani." for i in range(70)]
    in_process = USEEmbedder(batch_size=8, threads=1).embed_passages(texts)
    with USEEmbedder(batch_size=8, threads=2) as pooled:
        small = pooled.embed_passages(texts[:10])
        assert pooled._pool is None  # below pool_min_batch: computed here
        got = pooled.embed_passages(texts)
        assert pooled._pool is not None
        workers = list((getattr(pooled._pool, "_processes", None) or {}).values())
        expected = "process" if "fork" in multiprocessing.get_all_start_methods() else "thread"
        assert pooled._pool_kind == expected
        parts = [pooled.submit_passages(texts[i:i + 7]) for i in range(0, 70, 7)]
        streamed = np.concatenate([p.result() for p in parts])
        question = pooled.embed_query(texts[0])
    for vectors in (got, streamed, small):
        assert vectors.dtype == np.float32
        n = len(vectors)
        assert vectors.shape == (n, 512)
        assert float((vectors * in_process[:n]).sum(axis=1).min()) > 0.9999
    assert question @ in_process[0] > 0.9999
    assert pooled._pool is None
    if expected == "process":
        assert len(workers) == 2 and all(not p.is_alive() for p in workers)
