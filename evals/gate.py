"""The regression gate: measured metrics against committed thresholds
(``evals/thresholds.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def __str__(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4g}"
        sign = "<" if self.bound == "min" else ">"
        return f"{self.metric} = {shown} {sign} {self.bound} threshold {self.threshold:.4g}"


@dataclass(frozen=True)
class Thresholds:
    """Lower bounds (``min``) and upper bounds (``max``) on summary metrics of one
    configuration (``config``, default ``default``)."""

    minimum: dict[str, float]
    maximum: dict[str, float]
    config: str = "default"

    @classmethod
    def load(cls, path: str | Path = DEFAULT_THRESHOLDS) -> "Thresholds":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"thresholds file not found: {path}", setting="thresholds")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}", setting="thresholds") from exc
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

    def check(self, summary: dict[str, Any]) -> list[Violation]:
        """Every threshold the summary breaks (a missing value breaks it too)."""
        out = []
        for metric, threshold in self.minimum.items():
            value = summary.get(metric)
            if value is None or value < threshold:
                out.append(Violation(metric, value, threshold, "min"))
        for metric, threshold in self.maximum.items():
            value = summary.get(metric)
            if value is None or value > threshold:
                out.append(Violation(metric, value, threshold, "max"))
        return out
