"""The suite: every reference set on its own corpus (``evals/suite.yaml``), each reported on
its own and as a macro average.

For fitting and leave-one-corpus-out scoring::

    from evals.suite import Suite
    suite = Suite.load()
    for fold in suite.folds():                  # one fold per reference set
        training = {s.name: (s.corpus, s.items()) for s in fold.training}
        held_out = fold.held_out                 # .name, .corpus (folder), .items()

and to score something on one set, ``SuiteRunner(suite.select([name])).run(configs)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from assistant import Settings
from assistant.errors import ConfigError

from .configs import EvalConfig
from .dataset import QAItem, check_dataset, load_qa
from .metrics import METRIC_BY_KEY
from .runner import PACKAGE_DIR, ROOT, EvalRun, EvalRunner, IndexCache, Progress, _rounded

DEFAULT_SUITE = PACKAGE_DIR / "suite.yaml"
MACRO = "macro average"
# The columns of a suite table, in order.
SUITE_METRICS = ("fact_recall", "fact_any", "all_facts", "false_refusal_rate",
                 "refusal_recall", "in_domain_refusal_recall", "ood_refusal_rate",
                 "citation_gold_doc", "doc_cited", "citation_support", "doc_hit@5",
                 "passage_hit@5", "passage_mrr", "multi_turn_passed", "passed",
                 "latency_p95_ms")
_SET_KEYS = {"name", "corpus", "qa", "kinds", "minimums", "description"}


@dataclass(frozen=True)
class ReferenceSet:
    """One corpus folder and its reference questions (an original file plus additions)."""

    name: str
    corpus: Path
    qa: tuple[Path, ...]
    kinds: dict[str, str] = field(default_factory=dict)
    minimums: bool = False
    description: str = ""

    def items(self) -> list[QAItem]:
        """The questions of every file, in order, with the ``kinds`` overrides applied."""
        items: list[QAItem] = []
        where: dict[str, Path] = {}
        for path in self.qa:
            for item in load_qa(path):
                if item.id in where:
                    raise ConfigError(f"set {self.name!r}: id {item.id!r} is in both "
                                      f"{where[item.id].name} and {path.name}", setting="qa")
                where[item.id] = path
                items.append(item)
        unknown = sorted(set(self.kinds) - set(where))
        if unknown:
            raise ConfigError(f"set {self.name!r}: 'kinds' names unknown ids "
                              f"{', '.join(unknown)}", setting="suite")
        return [replace(i, kind=self.kinds[i.id]) if i.id in self.kinds else i for i in items]

    def check(self) -> list[str]:
        """Problems of the set against its corpus (:func:`evals.dataset.check_dataset`)."""
        return check_dataset(self.items(), self.corpus, None if self.minimums else {})


@dataclass(frozen=True)
class Fold:
    """Leave-one-corpus-out: fit on ``training``, score on ``held_out``."""

    held_out: ReferenceSet
    training: tuple[ReferenceSet, ...]


@dataclass(frozen=True)
class Suite:
    sets: tuple[ReferenceSet, ...]
    source: Path | None = None

    def __post_init__(self) -> None:
        if not self.sets:
            raise ConfigError("the suite has no reference sets", setting="suite")
        names = [s.name for s in self.sets]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ConfigError(f"suite set names must be unique, got {', '.join(doubled)} "
                              "twice", setting="suite")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_SUITE, root: str | Path | None = None) -> "Suite":
        """The sets of a suite file. Relative paths are resolved from ``root``, by default
        the file's ``root`` field taken from the file's folder (the folder itself without
        one)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"suite file not found: {path}", setting="suite")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}", setting="suite") from exc
        if root is None:
            root = (path.parent / str(data.get("root") or ".")).resolve() \
                if isinstance(data, dict) else path.parent
        return cls.from_dict(data, root, path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], root: str | Path = ROOT,
                  source: Path | None = None) -> "Suite":
        where = str(source or "suite")
        if not isinstance(data, dict) or not isinstance(data.get("sets"), list):
            raise ConfigError(f"{where}: expected a list under 'sets'", setting="suite")
        return cls(tuple(_reference_set(entry, Path(root), where) for entry in data["sets"]),
                   source)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sets]

    def get(self, name: str) -> ReferenceSet:
        for reference in self.sets:
            if reference.name == name:
                return reference
        raise ConfigError(f"unknown reference set {name!r}; the suite has "
                          f"{', '.join(self.names)}", setting="suite")

    def select(self, names: Iterable[str]) -> "Suite":
        """The named sets only, in the suite's order."""
        wanted = [n.strip() for name in names for n in name.split(",") if n.strip()]
        for name in wanted:
            self.get(name)
        return Suite(tuple(s for s in self.sets if s.name in wanted), self.source)

    def folds(self) -> list[Fold]:
        """One fold per set: that set held out, the others for fitting."""
        return [Fold(s, tuple(o for o in self.sets if o is not s)) for s in self.sets]


def _reference_set(entry: Any, root: Path, where: str) -> ReferenceSet:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"{where}: every set needs a 'name', got {entry!r}", setting="suite")
    name = entry["name"]
    unknown = sorted(set(entry) - _SET_KEYS)
    if unknown:
        raise ConfigError(f"{where}: set {name!r} has unknown field(s) {', '.join(unknown)}",
                          setting="suite")
    qa = entry.get("qa")
    qa = [qa] if isinstance(qa, str) else qa
    if not isinstance(entry.get("corpus"), str) or not qa or \
            not all(isinstance(q, str) for q in qa):
        raise ConfigError(f"{where}: set {name!r} needs a 'corpus' folder and 'qa' file(s)",
                          setting="suite")
    kinds = entry.get("kinds") or {}
    if not isinstance(kinds, dict) or not all(isinstance(v, str) for v in kinds.values()):
        raise ConfigError(f"{where}: 'kinds' of set {name!r} must map ids to kinds, got "
                          f"{kinds!r}", setting="suite")
    return ReferenceSet(name, root / entry["corpus"], tuple(root / q for q in qa),
                        {str(k): v for k, v in kinds.items()}, bool(entry.get("minimums")),
                        " ".join(str(entry.get("description") or "").split()))


@dataclass
class SuiteRun:
    """One :class:`~evals.runner.EvalRun` per reference set, same configurations."""

    runs: dict[str, EvalRun]
    references: dict[str, ReferenceSet]
    started: str
    seconds: float

    @property
    def config_names(self) -> list[str]:
        first = next(iter(self.runs.values()))
        return [c.name for c in first.configs]

    def summaries(self, config: str) -> dict[str, dict[str, Any]]:
        """Each set's summary under one configuration."""
        return {name: run.config(config).summary for name, run in self.runs.items()}

    def macro(self, config: str) -> dict[str, float | None]:
        """The unweighted mean over sets of every metric (sets without a value left out)."""
        summaries = list(self.summaries(config).values())
        out: dict[str, float | None] = {}
        for key in METRIC_BY_KEY:
            values = [s[key] for s in summaries if s.get(key) is not None]
            out[key] = sum(values) / len(values) if values else None
        out["questions"] = sum(s["questions"] for s in summaries)
        return out

    def as_json(self) -> dict[str, Any]:
        configs = {}
        for name in self.config_names:
            configs[name] = {"sets": {s: _rounded(v) for s, v in self.summaries(name).items()},
                             "macro": _rounded(self.macro(name))}
        return {"started": self.started, "seconds": round(self.seconds, 2),
                "sets": {name: {"corpus": str(run.corpus_dir),
                                "qa": [str(q) for q in self.references[name].qa],
                                "description": self.references[name].description,
                                "dataset": run.dataset} for name, run in self.runs.items()},
                "configs": configs}


class SuiteRunner:
    """Runs every set of a suite under the same configurations, one corpus after another.

    ``judge_factory`` makes a fresh judge per set (a runner closes its judge when done)."""

    def __init__(self, suite: Suite, cache: IndexCache | None = None,
                 base: Settings | None = None,
                 judge_factory: Callable[[], Any] | None = None, judge_note: str = "",
                 progress: Progress | None = None, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ConfigError(f"limit must be at least 1, got {limit!r}", setting="limit")
        self.suite = suite
        self.cache = cache or IndexCache(keep=max(8, 2 * len(suite.sets)))
        self.base = base
        self.judge_factory = judge_factory
        self.judge_note = judge_note
        self.progress = progress or (lambda message: None)
        self.limit = limit

    def run(self, configs: list[EvalConfig]) -> SuiteRun:
        started = datetime.now(timezone.utc).astimezone()
        t0 = time.perf_counter()
        runs: dict[str, EvalRun] = {}
        for reference in self.suite.sets:
            items = reference.items()[:self.limit] if self.limit else reference.items()
            judge = self.judge_factory() if self.judge_factory else None
            runner = EvalRunner(reference.corpus, items, self.cache, self.base, judge,
                                self.judge_note, self._progress_of(reference.name),
                                qa_path=reference.qa[0])
            runs[reference.name] = runner.run(configs)
        return SuiteRun(runs, {s.name: s for s in self.suite.sets},
                        started.isoformat(timespec="seconds"), time.perf_counter() - t0)

    def _progress_of(self, name: str) -> Progress:
        return lambda message: self.progress(f"{name}: {message}")
