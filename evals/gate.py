"""The regression gate: measured metrics against committed thresholds
(``evals/thresholds.yaml``): a section of ``min``/``max`` bounds per reference set of the
suite (:class:`SuiteThresholds`), or one ``min``/``max`` pair for a single set
(:class:`Thresholds`, for ``gate --corpus DIR --qa FILE`` with a file of one's own)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from assistant.errors import ConfigError

from .metrics import METRIC_BY_KEY

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.yaml"


@dataclass(frozen=True)
class Violation:
    metric: str
    value: float | None
    threshold: float
    bound: str  # "min" or "max"
    corpus: str = ""  # the reference set, in a suite gate

    def __str__(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4g}"
        sign = "<" if self.bound == "min" else ">"
        where = f"[{self.corpus}] " if self.corpus else ""
        return (f"{where}{self.metric} = {shown} {sign} {self.bound} threshold "
                f"{self.threshold:.4g}")


@dataclass(frozen=True)
class Thresholds:
    """Lower bounds (``min``) and upper bounds (``max``) on summary metrics of one
    configuration (``config``, default ``default``)."""

    minimum: dict[str, float]
    maximum: dict[str, float]
    config: str = "default"

    @classmethod
    def load(cls, path: str | Path = DEFAULT_THRESHOLDS) -> "Thresholds":
        """A single-set file (top-level ``min``/``max``)."""
        data = _read(path)
        if "sets" in data:
            raise ConfigError(f"{path}: a per-set file; load it with SuiteThresholds.load "
                              "or load_thresholds", setting="thresholds")
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "thresholds") -> "Thresholds":
        bounds: dict[str, dict[str, float]] = {}
        for bound in ("min", "max"):
            raw = data.get(bound) or {}
            if not isinstance(raw, dict):
                raise ConfigError(f"{where}: '{bound}' must map metric names to numbers",
                                  setting="thresholds")
            for metric, value in raw.items():
                if metric not in METRIC_BY_KEY and not metric.startswith(("doc_", "passage_")):
                    raise ConfigError(f"{where}: unknown metric {metric!r}",
                                      setting="thresholds")
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise ConfigError(f"{where}: threshold of {metric} must be a number, got "
                                      f"{value!r}", setting="thresholds")
            bounds[bound] = {str(k): float(v) for k, v in raw.items()}
        if not bounds["min"] and not bounds["max"]:
            raise ConfigError(f"{where}: no thresholds under 'min' or 'max'",
                              setting="thresholds")
        return cls(bounds["min"], bounds["max"], str(data.get("config") or "default"))

    def check(self, summary: dict[str, Any], corpus: str = "") -> list[Violation]:
        """Every threshold the summary breaks (a missing value breaks it too)."""
        out = []
        for metric, threshold in self.minimum.items():
            value = summary.get(metric)
            if value is None or value < threshold:
                out.append(Violation(metric, value, threshold, "min", corpus))
        for metric, threshold in self.maximum.items():
            value = summary.get(metric)
            if value is None or value > threshold:
                out.append(Violation(metric, value, threshold, "max", corpus))
        return out


@dataclass(frozen=True)
class SuiteThresholds:
    """Per reference set of the suite, the bounds of one configuration (``config``)::

        config: default
        sets:
          demo: {min: {fact_recall: 0.89}, max: {false_refusal_rate: 0.03}}
    """

    sets: dict[str, Thresholds]
    config: str = "default"

    @classmethod
    def load(cls, path: str | Path = DEFAULT_THRESHOLDS) -> "SuiteThresholds":
        return cls.from_dict(_read(path), str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "thresholds") -> "SuiteThresholds":
        sets = data.get("sets")
        if not isinstance(sets, dict) or not sets:
            raise ConfigError(f"{where}: expected a section per reference set under 'sets'",
                              setting="thresholds")
        config = str(data.get("config") or "default")
        out = {}
        for name, section in sets.items():
            if not isinstance(section, dict):
                raise ConfigError(f"{where}: set {name!r} must hold 'min' and/or 'max'",
                                  setting="thresholds")
            out[str(name)] = Thresholds.from_dict({**section, "config": config},
                                                  f"{where} [{name}]")
        return cls(out, config)

    @property
    def bounds(self) -> int:
        return sum(len(t.minimum) + len(t.maximum) for t in self.sets.values())

    def check(self, summaries: dict[str, dict[str, Any]],
              only: Iterable[str] | None = None) -> list[Violation]:
        """Every bound broken, naming the set; a set with thresholds but no summary breaks
        them all. ``only``: check these sets alone (a run of some sets of the suite)."""
        names = set(self.sets) if only is None else set(only)
        out = []
        for name, thresholds in self.sets.items():
            if name in names:
                out += thresholds.check(summaries.get(name) or {}, name)
        return out


def load_thresholds(path: str | Path = DEFAULT_THRESHOLDS) -> Thresholds | SuiteThresholds:
    """Either kind of thresholds file: per set (``sets:``) or a single set."""
    data = _read(path)
    if "sets" in data:
        return SuiteThresholds.from_dict(data, str(path))
    return Thresholds.from_dict(data, str(path))


def _read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"thresholds file not found: {path}", setting="thresholds")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {exc}", setting="thresholds") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping", setting="thresholds")
    return data
