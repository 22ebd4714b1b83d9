"""Evaluation harness: reference questions in, retrieval/answer/citation/refusal metrics out.

Every question goes through :meth:`assistant.Assistant.ask`, the same path as the CLI and
the UI. Run it with ``python -m evals run`` (reports) or ``python -m evals gate`` (the
regression gate used by the test suite).

Public API::

    from evals import EvalRunner, load_config, load_qa
    run = EvalRunner("corpus", load_qa("evals/qa/demo.jsonl")).run([load_config("default")])
    run.configs[0].summary["fact_recall"]

    from evals import Suite, SuiteRunner        # every reference set, each on its corpus
    suite = Suite.load()                        # evals/suite.yaml
    suite_run = SuiteRunner(suite).run([load_config("default")])
    suite_run.summaries("default")["piano-triennale"]["fact_recall"], suite_run.macro("default")
    for fold in suite.folds(): ...              # leave-one-corpus-out: .training, .held_out
"""

from .configs import EvalConfig, builtin_configs, load_config
from .dataset import QAItem, check_dataset, load_qa
from .gate import SuiteThresholds, Thresholds, Violation
from .judge import FakeJudge, LLMJudge
from .metrics import QuestionScore, score_question, summarize
from .runner import ConfigResult, EvalRun, EvalRunner, IndexCache
from .suite import Fold, ReferenceSet, Suite, SuiteRun, SuiteRunner

__all__ = [
    "ConfigResult", "EvalConfig", "EvalRun", "EvalRunner", "FakeJudge", "Fold", "IndexCache",
    "LLMJudge", "QAItem", "QuestionScore", "ReferenceSet", "Suite", "SuiteRun", "SuiteRunner",
    "SuiteThresholds", "Thresholds", "Violation", "builtin_configs", "check_dataset",
    "load_config", "load_qa", "score_question", "summarize",
]
