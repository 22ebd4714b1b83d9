"""Evaluation harness: reference questions in, retrieval/answer/citation/refusal metrics out.

Every question goes through :meth:`assistant.Assistant.ask`, the same path as the CLI and
the UI. Run it with ``python -m evals run`` (reports) or ``python -m evals gate`` (the
regression gate used by the test suite).

Public API::

    from evals import EvalRunner, load_config, load_qa
    run = EvalRunner("corpus", load_qa("evals/qa/demo.jsonl")).run([load_config("default")])
    run.configs[0].summary["fact_recall"]
"""

from .configs import EvalConfig, builtin_configs, load_config
from .dataset import QAItem, check_dataset, load_qa
from .gate import Thresholds, Violation
from .judge import FakeJudge, LLMJudge
from .metrics import QuestionScore, score_question, summarize
from .runner import ConfigResult, EvalRun, EvalRunner, IndexCache

__all__ = [
    "ConfigResult", "EvalConfig", "EvalRun", "EvalRunner", "FakeJudge", "IndexCache",
    "LLMJudge", "QAItem", "QuestionScore", "Thresholds", "Violation", "builtin_configs",
    "check_dataset", "load_config", "load_qa", "score_question", "summarize",
]
