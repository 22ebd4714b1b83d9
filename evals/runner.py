"""The runner: index a corpus (once per index-affecting settings), ask every reference
question through :meth:`assistant.Assistant.ask` under each configuration, score the answers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from assistant import Assistant, Filters, Settings, Turn
from assistant.errors import ConfigError, LLMError

from .configs import EvalConfig, index_key
from .dataset import QAItem, counts
from .metrics import QuestionScore, score_question, summarize, summarize_by_kind

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
DEFAULT_CORPUS = ROOT / "corpus"
DEFAULT_QA = PACKAGE_DIR / "qa" / "demo.jsonl"
DEFAULT_CACHE = PACKAGE_DIR / ".cache"
DEFAULT_REPORTS = PACKAGE_DIR / "reports"
# Code and data whose changes alter what an index keeps (chunks, vectors, the acronyms the
# documents define): part of the cache key.
_INDEX_CODE = ("ingestion", "embedding", "store.py", "corpus_facts.py", "expansion.py",
               "data/boilerplate.yaml")
SHOWN_SETTINGS = ("embedder", "retriever", "top_k", "candidates", "min_evidence",
                  "max_sentences", "answerer", "chunk_size", "chunk_overlap")

Progress = Callable[[str], None]


class IndexCache:
    """Index folders under ``root``, one per corpus content + index-affecting settings +
    ingestion code; the ``keep`` most recently used are kept."""

    def __init__(self, root: str | Path = DEFAULT_CACHE, keep: int = 8) -> None:
        if keep < 1:
            raise ConfigError(f"keep must be at least 1, got {keep!r}", setting="cache")
        self.root = Path(root)
        self.keep = keep

    @staticmethod
    def fingerprint(corpus_dir: Path, settings: Settings) -> str:
        digest = hashlib.sha256()
        corpus_dir = Path(corpus_dir)
        for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
            digest.update(path.relative_to(corpus_dir).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        digest.update(repr(index_key(settings)).encode())
        import assistant

        code_root = Path(assistant.__file__).resolve().parent
        for name in _INDEX_CODE:
            target = code_root / name
            files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
            for path in files:
                if path.is_file():
                    digest.update(path.relative_to(code_root).as_posix().encode())
                    digest.update(path.read_bytes())
        return digest.hexdigest()

    def folder(self, corpus_dir: Path, settings: Settings) -> tuple[Path, bool]:
        """The index folder for this corpus and settings, and whether it existed already."""
        key = self.fingerprint(corpus_dir, settings)[:16]
        folder = self.root / f"{settings.embedder}-{key}"
        existed = (folder / "manifest.json").is_file()
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)
        self.prune(exclude=folder)
        return folder, existed

    def prune(self, exclude: Path | None = None) -> None:
        folders = sorted((p for p in self.root.iterdir() if p.is_dir() and p != exclude),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in folders[self.keep - 1:]:
            shutil.rmtree(old, ignore_errors=True)


@dataclass
class ConfigResult:
    config: EvalConfig
    settings: dict[str, Any]
    scores: list[QuestionScore]
    index: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    judge_errors: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def summary(self) -> dict[str, Any]:
        return summarize(self.scores)

    @property
    def by_kind(self) -> dict[str, dict[str, Any]]:
        return summarize_by_kind(self.scores)

    @property
    def failures(self) -> list[QuestionScore]:
        return [s for s in self.scores if not s.passed]

    def as_json(self, details: bool = False) -> dict[str, Any]:
        data = {"name": self.name, "description": self.config.description,
                "overrides": self.config.overrides, "settings": self.settings,
                "index": self.index, "seconds": round(self.seconds, 2),
                "summary": _rounded(self.summary),
                "by_kind": {k: _rounded(v) for k, v in self.by_kind.items()}}
        if details:
            data["questions"] = [s.as_dict() for s in self.scores]
        return data


@dataclass
class EvalRun:
    corpus_dir: Path
    qa_path: Path | None
    dataset: dict[str, int]
    configs: list[ConfigResult]
    started: str
    seconds: float
    judge_note: str = ""

    def config(self, name: str) -> ConfigResult:
        for result in self.configs:
            if result.name == name:
                return result
        raise KeyError(name)

    def as_json(self, details: bool = False) -> dict[str, Any]:
        return {"started": self.started, "seconds": round(self.seconds, 2),
                "corpus": str(self.corpus_dir), "qa": str(self.qa_path or ""),
                "dataset": self.dataset, "judge": self.judge_note,
                "configs": [c.as_json(details) for c in self.configs]}


def _rounded(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}


class EvalRunner:
    """Runs reference questions over a corpus under one or more configurations.

    ``judge`` is an :class:`~evals.judge.LLMJudge` (or :class:`~evals.judge.FakeJudge`) or
    None; ``judge_note`` explains in the report why LLM-judged metrics are absent.
    """

    def __init__(self, corpus_dir: str | Path, items: list[QAItem],
                 cache: IndexCache | None = None, base: Settings | None = None,
                 judge: Any = None, judge_note: str = "", progress: Progress | None = None,
                 qa_path: str | Path | None = None) -> None:
        self.corpus_dir = Path(corpus_dir).resolve()
        if not self.corpus_dir.is_dir():
            raise ConfigError(f"corpus folder not found: {corpus_dir}", setting="corpus_dir")
        if not items:
            raise ConfigError("no questions to evaluate", setting="qa")
        self.items = items
        self.cache = cache or IndexCache()
        self.base = base or Settings()
        self.judge = judge
        self.judge_note = judge_note
        self.progress = progress or (lambda message: None)
        self.qa_path = Path(qa_path) if qa_path else None

    def run(self, configs: list[EvalConfig]) -> EvalRun:
        if not configs:
            raise ConfigError("no configuration to run", setting="config")
        started = datetime.now(timezone.utc).astimezone()
        t0 = time.perf_counter()
        groups: dict[tuple, list[tuple[EvalConfig, Settings]]] = {}
        for config in configs:
            settings = config.settings(self.base).replace(corpus_dir=self.corpus_dir)
            groups.setdefault(index_key(settings), []).append((config, settings))
        results: dict[str, ConfigResult] = {}
        for group in groups.values():
            for result in self._run_group(group):
                results[result.name] = result
        if self.judge is not None:
            self.judge.close()
        return EvalRun(self.corpus_dir, self.qa_path, counts(self.items),
                       [results[c.name] for c in configs],
                       started.isoformat(timespec="seconds"), time.perf_counter() - t0,
                       self.judge_note)

    def _run_group(self, group: list[tuple[EvalConfig, Settings]]) -> list[ConfigResult]:
        first_config, first = group[0]
        folder, existed = self.cache.folder(self.corpus_dir, first)
        names = ", ".join(c.name for c, _ in group)
        self.progress(f"index for {names}: {'reusing' if existed else 'building'} {folder}")
        t0 = time.perf_counter()
        base_bot = Assistant(first.replace(index_dir=folder))
        report = base_bot.ingest(self.corpus_dir)
        base_bot.warm_up()
        index = {"folder": str(folder), "reused": existed and report.files_indexed == 0,
                 "seconds": round(time.perf_counter() - t0, 2),
                 "chunks": report.chunks_total, "files": report.files_indexed
                 + report.files_unchanged, "skipped": [s.source for s in report.skipped]}
        results = []
        try:
            for config, settings in group:
                bot = base_bot if config is first_config else Assistant(
                    settings.replace(index_dir=folder), embedder=base_bot.embedder,
                    store=base_bot.store)
                bot.refresh()
                results.append(self._run_config(bot, config, settings, index))
        finally:
            base_bot.close()
        return results

    def _run_config(self, bot: Assistant, config: EvalConfig, settings: Settings,
                    index: dict[str, Any]) -> ConfigResult:
        _forget_query_embeddings(bot.embedder)  # every configuration pays for its own
        t0 = time.perf_counter()
        scores = []
        total = len(self.items)
        for number, item in enumerate(self.items, 1):
            scores.append(self.ask(bot, item, config.name))
            if number % 25 == 0 or number == total:
                self.progress(f"{config.name}: {number}/{total} questions")
        result = ConfigResult(config, {k: _plain(getattr(settings, k))
                                       for k in SHOWN_SETTINGS}, scores, dict(index))
        if self.judge is not None:
            self._judge(result)
        result.seconds = time.perf_counter() - t0
        return result

    @staticmethod
    def ask(bot: Assistant, item: QAItem, config: str = "") -> QuestionScore:
        """One question through the same call as the CLI and the UI, timed and scored."""
        history = [Turn(q, a) for q, a in item.history]
        filters = Filters(**item.filters) if item.filters else None
        answer, error = None, None
        t0 = time.perf_counter()
        try:
            answer = bot.ask(item.question, history=history, filters=filters)
        except Exception as exc:  # noqa: BLE001 - a failing question is a result, not a crash
            error = f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - t0) * 1000
        return score_question(item, answer, latency, error, config)

    def _judge(self, result: ConfigResult) -> None:
        """Faithfulness and relevancy of every answered question; a judge that fails on its
        first call is switched off for the rest of the run with a note saying why."""
        judged = 0
        for score in result.scores:
            if not score.answered or self.judge is None:
                continue
            contexts = [c["text"] for c in score.citations]
            try:
                score.judge["faithfulness"] = self.judge.faithfulness(
                    score.question, score.answer, contexts)
                score.judge["relevancy"] = self.judge.relevancy(score.question, score.answer)
                judged += 1
            except LLMError as exc:
                result.judge_errors += 1
                if judged == 0 and result.judge_errors == 1:
                    self.judge_note = f"LLM judge skipped: {exc}"
                    self.progress(self.judge_note)
                    self.judge = None
        if self.judge is not None:
            self.judge_note = (f"LLM judge: {self.judge.describe()}"
                               + (f" ({result.judge_errors} failed calls in {result.name})"
                                  if result.judge_errors else ""))


def _forget_query_embeddings(embedder: Any) -> None:
    """Empty the embedder's query cache, so that configurations sharing an embedder are timed
    alike (the second one would otherwise find every question embedded already)."""
    clear = getattr(embedder, "clear_cache", None)
    if clear is not None:
        clear()


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
