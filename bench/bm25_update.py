"""Lexical index after an ingest: full rebuild against incremental update.

Over a synthetic store built by ``python -m bench.run --only stores --scales N`` (its
folder is changed and put back: one document is added, then removed):

1. full rebuild (``refresh(force=True)``: every chunk read back from Chroma, tokenised,
   indexed, saved), with the time spent in ``store.dump`` and in ``save``;
2. a document of about ``--chunks`` chunks added to the store and the manifest, as an
   ingest would, then the refresh of a *fresh* Assistant (another process: the saved
   index and its token lists are read from disk, then updated);
3. the same document removed, refreshed by that Assistant (token lists in memory);
4. added again and refreshed (the ingesting process's own case);
5. removed again (the store is as it was);

plus bm25s indexing alone from the saved token lists, and the size on disk of each part
of ``index/bm25``. Prints one JSON line and a Markdown table.

    python -m bench.bm25_update --index bench/results/data/7/stores/100000-use
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .tasks import disk_usage


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Timer:
    """Wraps methods of an object and adds up the seconds spent in them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, obj: Any, name: str, key: str) -> None:
        original = getattr(obj, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            # a dump of the whole store is named apart: an update should make none
            what = "dump_all" if name == "dump" and kwargs.get("ids") is None else key
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - t0

        setattr(obj, name, timed)


def _document(n_chunks: int, seed: int, store: Any) -> tuple[str, list, Any]:
    """A new document of about ``n_chunks`` chunks (nodes ready for the store, and their
    vectors: stored vectors plus noise, as the synthetic stores are made)."""
    from assistant.ingestion.catalog import DocumentInfo
    from assistant.ingestion.chunking import Chunker
    from assistant.ingestion.readers import Page

    from .corpus import PlanWriter

    writer = PlanWriter(seed)
    chunker = Chunker()
    for plan, pages in writer.text_pages(200, salt="bm25-update"):
        source = "aggiunto/documento-nuovo.txt"
        chunks = chunker.chunk(source, [Page(t, i + 1) for i, t in enumerate(pages)])
        if len(chunks) >= n_chunks:
            break
    chunks = chunks[:n_chunks]
    info = DocumentInfo(title=plan["title"], doc_type=plan["type"], ambito=plan["ambito"],
                        comuni=tuple(plan["comuni"]), region=plan["region"],
                        province=plan["province"], year=plan["year"])
    nodes = [c.with_document(info.as_metadata()) for c in chunks]
    rng = np.random.default_rng(seed)
    sample = store.ids()[:1000]
    base = store.vectors(sample)
    picked = base[rng.integers(0, len(base), len(nodes))]
    noisy = picked + rng.normal(0, 0.5 / np.sqrt(base.shape[1]), picked.shape)
    return source, nodes, noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def _add(bot: Any, manifest_path: Path, source: str, nodes: list, vectors: np.ndarray) -> None:
    from assistant.store import Manifest

    bot.store.add(nodes, vectors)
    manifest = Manifest(manifest_path)
    manifest.files[source] = {"hash": hashlib.sha256(source.encode()).hexdigest(),
                              "pages": 1, "chunks": len(nodes), "title": "nuovo"}
    manifest.save()


def _remove(bot: Any, manifest_path: Path, source: str) -> None:
    from assistant.store import Manifest

    manifest = Manifest(manifest_path)
    manifest.files.pop(source, None)
    manifest.save()
    bot.store.delete_source(source)


def _bm25_parts(folder: Path) -> dict[str, int]:
    """Bytes on disk of each kind of file in ``index/bm25``."""
    parts: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            rel = path.relative_to(folder)
            kind = rel.parts[0].split("-")[0] if len(rel.parts) > 1 else \
                path.name.split("-")[0].split(".")[0]
            parts[kind] = parts.get(kind, 0) + path.stat().st_blocks * 512
    return parts


def run(index: Path, embedder: str, chunks: int, seed: int) -> dict:
    from assistant import Assistant, Settings
    from assistant.index_sync import BM25_SUBDIR, IndexState
    from assistant.lexical import bm25_model
    from assistant.store import Manifest

    settings = Settings(corpus_dir=Path("corpus"), index_dir=index, embedder=embedder)
    manifest_path = index / "manifest.json"
    folder = index / BM25_SUBDIR
    out: dict[str, Any] = {"index": str(index), "load_at_start": _load()}

    bot = Assistant(settings)
    out["chunks"] = bot.store.count()
    timer = Timer()
    timer.wrap(bot.store, "dump", "dump_all")
    real_save = IndexState.save
    timer.wrap(IndexState, "save", "save")  # on the class: the state made is saved once
    try:
        seconds, _ = _timed(lambda: bot.refresh(force=True))
    finally:
        IndexState.save = real_save  # type: ignore[method-assign]
    out["full"] = {"seconds": round(seconds, 2), "load": _load(),
                   **{f"{k}_s": round(v, 2) for k, v in timer.seconds.items()}}
    out["bm25_disk"] = _bm25_parts(folder)

    seconds, loaded = _timed(lambda: IndexState.load(folder))
    out["load_index_s"] = round(seconds, 2)
    seconds, tokens = _timed(loaded.lexical.token_lists)
    out["read_tokens_s"] = round(seconds, 2)
    out["tokens"] = len(tokens.tokens)
    vocab = {t: i for i, t in enumerate(tokens.vocab)}
    seconds, _ = _timed(lambda: bm25_model(tokens.lists(), vocab))
    out["bm25s_from_token_ids_s"] = round(seconds, 2)

    source, nodes, vectors = _document(chunks, seed, bot.store)
    out["document_chunks"] = len(nodes)
    steps = {}
    try:
        _add(bot, manifest_path, source, nodes, vectors)
        other = Assistant(settings)  # another process: reads the saved index
        timer = Timer()
        timer.wrap(other.store, "dump", "dump_added")
        timer.wrap(other.store, "ids", "ids")
        seconds, _ = _timed(other.refresh)
        steps["add, fresh process (load + update)"] = {"seconds": seconds, **timer.seconds}
        for name, change in (("remove, same process", _remove), ("add, same process", _add),
                             ("remove again, same process", _remove)):
            if change is _add:
                change(other, manifest_path, source, nodes, vectors)
            else:
                change(other, manifest_path, source)
            timer.seconds = {}
            other.sync.recheck()
            seconds, _ = _timed(other.refresh)
            steps[name] = {"seconds": seconds, **timer.seconds}
    finally:
        if source in Manifest(manifest_path).files:
            _remove(bot, manifest_path, source)
    out["updates"] = {k: {kk: round(vv, 2) for kk, vv in v.items()} | {"load": _load()}
                      for k, v in steps.items()}
    out["bm25_disk_after"] = _bm25_parts(folder)
    out["disk"] = disk_usage(index)
    out["load_at_end"] = _load()
    return out


def markdown(res: dict) -> str:
    mb = 1024 * 1024
    full = res["full"]
    lines = [f"{res['chunks']} chunks ({res['index']}), document added: "
             f"{res['document_chunks']} chunks; load {res['load_at_start']} -> "
             f"{res['load_at_end']}",
             "", "| step | seconds | of which |", "|---|---|---|",
             f"| full rebuild | {full['seconds']} | store.dump {full.get('dump_all_s')}, save "
             f"{full.get('save_s')} |"]
    for name, step in res["updates"].items():
        parts = ", ".join(f"{k} {v}" for k, v in step.items() if k not in ("seconds", "load"))
        lines.append(f"| {name} | {step['seconds']} | {parts} |")
    lines += ["", f"load saved index {res['load_index_s']} s; read token lists "
              f"{res['read_tokens_s']} s ({res['tokens']} tokens); bm25s from token ids "
              f"{res['bm25s_from_token_ids_s']} s",
              "index/bm25 on disk: " + ", ".join(
                  f"{k} {v / mb:.1f} MB" for k, v in sorted(res["bm25_disk"].items()))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bm25_update", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="a synthetic store's index folder")
    parser.add_argument("--embedder", default="use", help="the store's embedder (not run)")
    parser.add_argument("--chunks", type=int, default=100, help="chunks of the added document")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="also write the JSON result here")
    opts = parser.parse_args(argv)
    from assistant.env import configure_offline_environment

    configure_offline_environment()
    res = run(Path(opts.index), opts.embedder, opts.chunks, opts.seed)
    text = json.dumps(res, ensure_ascii=False)
    if opts.out:
        Path(opts.out).write_text(text, encoding="utf-8")
    print(text)
    print(markdown(res), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
