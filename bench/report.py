"""Markdown tables from a results JSON of ``bench.run`` (``python -m bench.report FILE``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _mb(n: int | float | None) -> str:
    return f"{(n or 0) / 1024 ** 2:.1f} MB"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return out


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"Run {r.get('started')} → {r.get('finished')}, seed {r.get('seed')}, embedder "
             f"`{r.get('embedder')}`{' (quick)' if r.get('quick') else ''}.",
             f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, {m['os']}, "
             f"Python {m['python']}; load average at start {m['loadavg_at_start']}, at end "
             f"{m.get('loadavg_at_end')}.",
             "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v), ""]
    rows = []
    keys = [k for k in r if k.startswith(("ingest_pdf", "ingest_corpus"))]
    for key in keys:
        res = r[key]
        label = ("one PDF" if key.startswith("ingest_pdf") else "corpus") + (
            f" ({res['variant']})" if res.get("variant", "shipped") != "shipped" else "")
        st = res["stage_seconds"]
        base = res["baseline_pypdf"]
        rows.append([label, res["pages"], res["chunks"], res["seconds"], res["pages_per_s"],
                     res["chunks_per_s"], st.get("parse"), st.get("clean_chunk"),
                     st.get("embed"), st.get("store"), round(st.get("bm25_and_state", 0), 2),
                     res["maxrss_mb"], res.get("workers_maxrss_mb"), res.get("cpu_s"),
                     res.get("workers_cpu_s"), base["seconds"], res["ratio_to_pypdf"],
                     res["reingest_unchanged_s"], _mb(res["disk_bytes"].get("total"))])
    if rows:
        lines += ["### Ingest", ""] + _table(
            ["input", "pages", "chunks", "total s", "pages/s", "chunks/s", "parse s",
             "clean+chunk s", "embed s", "store s", "BM25+state s", "peak MB",
             "worker peak MB", "CPU s", "workers' CPU s", "pypdf alone s", "× pypdf",
             "re-ingest unchanged s", "index on disk"], rows) + [""]
    stores = r.get("stores") or {}
    if stores:
        rows = []
        for n, s in stores.items():
            st = s["stage_seconds"]
            d = s["disk_bytes"]
            rows.append([n, s["chunks"], s["real_embedded"], st.get("store_add"),
                         s["store_chunks_per_s"], st.get("refresh_bm25_state"), s["maxrss_mb"],
                         _mb(d.get("chroma")), _mb(d.get("bm25")), _mb(d.get("total"))])
        lines += ["### Synthetic stores", ""] + _table(
            ["target", "chunks", "really embedded", "store add s", "chunks/s stored",
             "BM25+state build s", "peak MB", "chroma on disk", "bm25 on disk", "total on disk"],
            rows) + [""]
    if r.get("query"):
        rows = []
        for n, q in r["query"].items():
            b = q["baseline_bm25s"]["query"]
            for what in ("embed_query", "retrieval", "answer", "answer_cached_embedding"):
                p = q[what]
                rows.append([n, what, p["p50_ms"], p["p95_ms"], p["p99_ms"],
                             q["ratio_to_bm25s"].get(f"{what}_p95") if what in (
                                 "retrieval", "answer") else None,
                             q["maxrss_mb"] if what == "answer" else None])
            rows.append([n, "plain bm25s (baseline)", b["p50_ms"], b["p95_ms"], b["p99_ms"], 1.0,
                         q["baseline_bm25s"]["maxrss_mb"]])
        lines += ["### Query latency (ms)", ""] + _table(
            ["chunks", "what", "p50", "p95", "p99", "p95 × bm25s", "peak MB"], rows) + [""]
    if r.get("startup"):
        rows = [[n, i + 1, x["interpreter_s"], x["imports_s"], x["first_answer_s"],
                 x["total_s"], x["maxrss_mb"]]
                for n, runs in r["startup"].items() for i, x in enumerate(runs)]
        lines += ["### Process start to first answer (s)", ""] + _table(
            ["chunks", "run", "interpreter", "imports", "load + first answer", "total",
             "peak MB"], rows) + [""]
    if r.get("concurrency"):
        rows = []
        for n, c in r["concurrency"].items():
            for users, x in c["per_users"].items():
                rows.append([n, users, x["answers"], x["answers_per_s"], x["latency"].get("p50_ms"),
                             x["latency"].get("p95_ms"), x["errors"]])
        lines += ["### Concurrent users (threads sharing one Assistant)", ""] + _table(
            ["chunks", "users", "answers", "answers/s", "p50 ms", "p95 ms", "errors"], rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    path = Path(args[0]) if args else max(Path(__file__).with_name("results").glob("*.json"))
    print(markdown(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
