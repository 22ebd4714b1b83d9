"""Soak benchmark: one real app process under many concurrent citizens, its memory sampled.

``python -m bench.soak --clients 30 --minutes 10`` copies the demo corpus to a temporary
folder, starts ``app.py`` there (default USE embedder, the public app only; it indexes the
corpus at start), and lets ``--clients`` threads chat with it through ``gradio_client`` as
visitors do: each visitor opens a page (a new Gradio session), asks one to three questions
in one conversation (the chat history goes back with each question), and leaves. The
questions cycle through ``evals/qa/demo.jsonl`` with a random suffix each, so no cache
(query embeddings, typo corrections, answers) can hide growth. The server's resident set
(``psutil``, else ``VmRSS`` of ``/proc/<pid>/status``) is sampled every ``--interval``
seconds. Written: ``bench/results/soak-<stamp>.csv`` (seconds, RSS MB, requests done),
``soak-<stamp>.json`` (the summary) and, with ``--svg``, a plot of the RSS series.

``--trace DIR`` runs the server under ``tracemalloc`` and makes it write a snapshot to DIR
every ``--interval`` seconds (slower; to find what grows, with ``--diff DIR``).
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import random
import shutil
import string
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from bench.app_process import AppProcess, app_env, free_port, with_demo_corpus

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUESTIONS = ROOT / "evals" / "qa" / "demo.jsonl"


# ---- measuring -------------------------------------------------------------------------
def rss_mb(pid: int, proc_root: Path = Path("/proc")) -> float:
    """The resident set of process ``pid`` in MB (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None and proc_root == Path("/proc"):
        return psutil.Process(pid).memory_info().rss / 2**20
    for line in (proc_root / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    raise ValueError(f"no VmRSS line for process {pid!r}")


class RssSampler:
    """Samples ``read()`` (a process's RSS in MB) every ``interval`` seconds in a thread:
    ``samples`` are (seconds since start, MB, ``count()`` at that moment)."""

    def __init__(self, read: Callable[[], float], interval: float = 5.0,
                 count: Callable[[], int] = lambda: 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.read, self.interval, self.count, self.clock = read, interval, count, clock
        self.samples: list[tuple[float, float, int]] = []
        self._start = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> tuple[float, float, int]:
        row = (round(self.clock() - self._start, 2), round(self.read(), 1), self.count())
        self.samples.append(row)
        return row

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except (OSError, ValueError):  # the process is gone
                return

    def start(self) -> "RssSampler":
        self._start = self.clock()
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, float, int]]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self.sample()
        except (OSError, ValueError):
            pass
        return self.samples


class QuestionCycler:
    """The reference questions in turn, each with a random suffix (a number and a made-up
    word), so that no two questions asked are the same text. Thread-safe."""

    def __init__(self, questions: Sequence[str], seed: int = 0) -> None:
        questions = [q.strip() for q in questions if q and q.strip()]
        if not questions:
            raise ValueError("no questions to ask")
        self.questions = questions
        self._rng = random.Random(seed)
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_jsonl(cls, path: Path, seed: int = 0) -> "QuestionCycler":
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls([json.loads(line)["question"] for line in lines if line.strip()], seed)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        with self._lock:
            question = self.questions[self._next % len(self.questions)]
            self._next += 1
            word = "".join(self._rng.choice(string.ascii_lowercase)
                           for _ in range(self._rng.randint(4, 9)))
            return f"{question} {word} {self._rng.randrange(10**6)}"


@dataclass
class Tally:
    """Requests served, their latencies and the errors (by exception type), thread-safe."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ok(self, seconds: float) -> None:
        with self._lock:
            self.latencies.append(seconds)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1

    def served(self) -> int:
        return len(self.latencies)

    def summary(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)

        return {"requests": len(ordered), "errors": sum(self.errors.values()),
                "error_types": dict(self.errors), "p50_ms": pct(50), "p95_ms": pct(95),
                "max_ms": round(ordered[-1] * 1000, 1) if ordered else None}


# ---- the server ------------------------------------------------------------------------
def start_server(workdir: Path, embedder: str = "use", trace_dir: Path | None = None,
                 interval: float = 5.0, extra_env: dict[str, str] | None = None,
                 timeout: float = 600.0) -> tuple[AppProcess, str]:
    """``app.py`` (the public app only) over a copy of the demo corpus, once its page
    answers: (the running process, its url)."""
    with_demo_corpus(workdir)
    port = free_port()
    command = None
    if trace_dir is not None:
        command = [sys.executable, "-m", "bench.soak", "--serve-traced", str(trace_dir),
                   "--interval", str(interval)]
    url = f"http://127.0.0.1:{port}/"
    env = app_env(workdir, port, embedder,
                  {"ASSISTANT_WEB_OPERATOR_PORT": "0", **(extra_env or {})})
    return AppProcess(workdir, env, [url], command, timeout=timeout).start(), url


def serve_traced(trace_dir: Path, interval: float) -> int:
    """The app under tracemalloc, a snapshot to ``trace_dir`` every ``interval`` seconds."""
    import tracemalloc

    tracemalloc.start(12)
    trace_dir.mkdir(parents=True, exist_ok=True)

    def dump() -> None:
        number = 0
        while True:
            time.sleep(interval)
            tracemalloc.take_snapshot().dump(str(trace_dir / f"snap-{number:04d}.pickle"))
            number += 1

    threading.Thread(target=dump, name="tracemalloc-dump", daemon=True).start()
    from assistant.ui.launch import main

    return main([])


def diff_snapshots(trace_dir: Path, top: int = 25, group: str = "lineno") -> str:
    """What grew between the second and the last snapshot, largest first."""
    import tracemalloc

    snaps = sorted(trace_dir.glob("snap-*.pickle"))
    if len(snaps) < 2:
        return f"fewer than 2 snapshots in {trace_dir}"
    first = tracemalloc.Snapshot.load(str(snaps[min(1, len(snaps) - 2)]))
    last = tracemalloc.Snapshot.load(str(snaps[-1]))
    stats = last.compare_to(first, group)
    lines = [f"{first and snaps[min(1, len(snaps) - 2)].name} -> {snaps[-1].name}"]
    for stat in stats[:top]:
        lines.append(str(stat))
        if group == "traceback":
            lines += ["    " + line for line in stat.traceback.format()[-8:]]
    return "\n".join(lines)


# ---- the visitors ----------------------------------------------------------------------
def visitor_loop(url: str, questions: Iterator[str], tally: Tally, deadline: float,
                 seed: int, max_turns: int = 3) -> None:
    """Visitors one after another until ``deadline``: a new session each, 1..max_turns
    questions in one conversation."""
    from gradio_client import Client

    rng = random.Random(seed)
    while time.monotonic() < deadline:
        try:
            client = Client(url, verbose=False)
        except Exception as exc:  # noqa: BLE001 - counted, the soak goes on
            tally.failed(exc)
            time.sleep(1.0)
            continue
        try:
            history: list = []
            for _ in range(rng.randint(1, max_turns)):
                if time.monotonic() >= deadline:
                    break
                started = time.perf_counter()
                try:
                    history, _box = client.predict(next(questions), history, "", "", "", "",
                                                   api_name="/chiedi")
                except Exception as exc:  # noqa: BLE001
                    tally.failed(exc)
                    break
                tally.ok(time.perf_counter() - started)
        finally:
            client.close()


def run_soak(clients: int, minutes: float, interval: float, workdir: Path,
             embedder: str = "use", trace_dir: Path | None = None, seed: int = 0,
             extra_env: dict[str, str] | None = None) -> dict:
    app, url = start_server(workdir, embedder, trace_dir, interval, extra_env)
    tally = Tally()
    questions = QuestionCycler.from_jsonl(QUESTIONS, seed)
    sampler = RssSampler(lambda: rss_mb(app.pid), interval, tally.served)
    load_start = os.getloadavg()
    try:
        sampler.start()
        deadline = time.monotonic() + minutes * 60
        threads = [threading.Thread(target=visitor_loop, name=f"visitor-{n}",
                                    args=(url, questions, tally, deadline, seed * 1000 + n))
                   for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        samples = sampler.stop()
    finally:
        app.stop()
    rss = [mb for _t, mb, _n in samples]
    return {"clients": clients, "minutes": minutes, "embedder": embedder,
            "server_env": dict(extra_env or {}),
            "traced": trace_dir is not None, **tally.summary(),
            "rss_start_mb": rss[0], "rss_peak_mb": max(rss), "rss_end_mb": rss[-1],
            "load_start": [round(x, 2) for x in load_start],
            "load_end": [round(x, 2) for x in os.getloadavg()], "samples": samples}


# ---- output ----------------------------------------------------------------------------
def write_csv(path: Path, samples: Iterable[tuple[float, float, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["seconds", "rss_mb", "requests"])
        writer.writerows(samples)


def read_csv(path: Path) -> list[tuple[float, float, int]]:
    with Path(path).open(newline="") as source:
        return [(float(r["seconds"]), float(r["rss_mb"]), int(r["requests"]))
                for r in csv.DictReader(source)]


def rss_svg(series: dict[str, Sequence[tuple[float, float, int]]], title: str,
            width: int = 720, height: int = 360) -> str:
    """A line chart of RSS (MB) against minutes, one polyline per series."""
    colours = ["#b30000", "#1f5fa8", "#2e7d32", "#6a1b9a"]
    left, right, top, bottom = 60, 20, 40, 50
    points = [p for rows in series.values() for p in rows]
    if not points:
        raise ValueError("no samples to plot")
    x_max = max(t for t, _m, _n in points) / 60 or 1.0
    y_max = max(m for _t, m, _n in points) * 1.1 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(minutes: float) -> float:
        return left + minutes / x_max * plot_w

    def y(mb: float) -> float:
        return top + plot_h - mb / y_max * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
             f'{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
             f'y2="{top + plot_h}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>']
    for step in range(6):
        mb, minutes = y_max * step / 5, x_max * step / 5
        parts.append(f'<text x="{left - 6}" y="{y(mb) + 4:.1f}" text-anchor="end">'
                     f'{mb:.0f}</text>')
        parts.append(f'<line x1="{left}" y1="{y(mb):.1f}" x2="{left + plot_w}" '
                     f'y2="{y(mb):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{x(minutes):.1f}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle">{minutes:.1f}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">'
                 'minutes</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + plot_h / 2})">RSS (MB)</text>')
    for number, (label, rows) in enumerate(series.items()):
        colour = colours[number % len(colours)]
        line = " ".join(f"{x(t / 60):.1f},{y(m):.1f}" for t, m, _n in rows)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{line}"/>')
        parts.append(f'<text x="{left + 10}" y="{top + 16 + 16 * number}" fill="{colour}">'
                     f'{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--embedder", default="use")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--out", type=Path, help="CSV path (default bench/results/soak-*.csv)")
    parser.add_argument("--svg", type=Path, help="write a plot of the RSS series here")
    parser.add_argument("--label", default="", help="this run's name in the plot")
    parser.add_argument("--compare", nargs=2, action="append", default=[],
                        metavar=("CSV", "LABEL"), help="an earlier run to plot beside it")
    parser.add_argument("--trace", type=Path, help="server under tracemalloc, snapshots here")
    parser.add_argument("--diff", type=Path, help="only print what grew between snapshots")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an ASSISTANT_* setting for the server (repeatable)")
    parser.add_argument("--serve-traced", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    bad = [item for item in args.env if "=" not in item]
    if bad:
        parser.error(f"--env takes NAME=VALUE, got {bad[0]!r}")
    args.env = dict(item.split("=", 1) for item in args.env)
    if args.clients < 1 or args.minutes <= 0:
        parser.error(f"--clients must be >= 1 and --minutes > 0, got {args.clients}, "
                     f"{args.minutes}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_traced:
        return serve_traced(args.serve_traced, args.interval)
    if args.diff:
        print(diff_snapshots(args.diff))
        print(diff_snapshots(args.diff, top=8, group="traceback"))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="soak-"))
    result = run_soak(args.clients, args.minutes, args.interval, workdir, args.embedder,
                      args.trace, args.seed, args.env)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or RESULTS / f"soak-{stamp}.csv"
    write_csv(out, result["samples"])
    summary = {k: v for k, v in result.items() if k != "samples"}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    if args.svg:
        series: dict[str, Sequence[tuple[float, float, int]]] = {
            label: read_csv(Path(path)) for path, label in args.compare}
        series[args.label or f"{args.clients} clients"] = result["samples"]
        args.svg.parent.mkdir(parents=True, exist_ok=True)
        args.svg.write_text(rss_svg(series, f"Server RSS, {args.clients} clients × "
                                            f"{args.minutes:g} min"))
    print(json.dumps(summary, indent=1))
    print(f"samples: {out}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
