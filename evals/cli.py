"""Command line of the evaluation harness.

    python -m evals run   [--corpus DIR] [--qa FILE] [--config NAME_OR_FILE ...] [--json]
                          [--judge] [--gate] [--out DIR] [--no-report] [--limit N]
    python -m evals gate  [--thresholds FILE] [--corpus DIR] [--qa FILE] [--report]
    python -m evals check [--corpus DIR] [--qa FILE]      (the reference set itself)

Exit codes: 0 fine, 1 a gate threshold broken or the reference set invalid, 2 bad usage or
configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from assistant.env import configure_offline_environment
from assistant.errors import AssistantError

from .runner import DEFAULT_CACHE, DEFAULT_CORPUS, DEFAULT_QA, DEFAULT_REPORTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals",
                                     description="Evaluate the assistant on reference questions.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                       help="corpus folder (default: the demo corpus)")
        p.add_argument("--qa", type=Path, default=DEFAULT_QA,
                       help="reference questions, JSONL (default: evals/qa/demo.jsonl)")

    def running(p: argparse.ArgumentParser) -> None:
        common(p)
        p.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                       help="folder of cached indexes (default: evals/.cache)")
        p.add_argument("--base-settings", type=Path, default=None,
                       help="a TOML file of Settings the configurations start from "
                            "(default: the shipped defaults)")
        p.add_argument("--limit", type=int, default=None,
                       help="only the first N questions (quick checks)")
        p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
        p.add_argument("--quiet", action="store_true", help="no progress on stderr")

    run = sub.add_parser("run", help="run configurations and write a report")
    running(run)
    run.add_argument("--config", action="append", default=None, metavar="NAME_OR_FILE",
                     help="configuration name (evals/configs), file, comma list or 'all'; "
                          "repeatable (default: default)")
    run.add_argument("--out", type=Path, default=DEFAULT_REPORTS,
                     help="reports go to OUT/<timestamp>/ (default: evals/reports)")
    run.add_argument("--no-report", action="store_true", help="write no report files")
    run.add_argument("--judge", action="store_true",
                     help="LLM-judged faithfulness and relevancy (also ASSISTANT_LLM_JUDGE=1)")
    run.add_argument("--gate", action="store_true",
                     help="also check the thresholds (evals/thresholds.yaml)")
    run.add_argument("--thresholds", type=Path, default=None)

    gate = sub.add_parser("gate", help="regression gate: the default configuration against "
                                       "evals/thresholds.yaml")
    running(gate)
    gate.add_argument("--thresholds", type=Path, default=None)
    gate.add_argument("--report", type=Path, default=None, metavar="DIR",
                      help="also write a report to DIR/<timestamp>/")

    check = sub.add_parser("check", help="validate a reference set against its corpus")
    common(check)
    check.add_argument("--no-minimums", action="store_true",
                       help="do not require the minimum counts of the demo set")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    configure_offline_environment()
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check(args, out)
        return _run(args, out, err)
    except AssistantError as exc:
        print(f"error: {exc}", file=err)
        return 2


def _check(args: argparse.Namespace, out: TextIO) -> int:
    from .dataset import check_dataset, counts, load_qa

    items = load_qa(args.qa)
    problems = check_dataset(items, args.corpus, {} if args.no_minimums else None)
    print(json.dumps(counts(items), ensure_ascii=False), file=out)
    for problem in problems:
        print(f"problem: {problem}", file=out)
    print("ok" if not problems else f"{len(problems)} problem(s)", file=out)
    return 1 if problems else 0


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from assistant import Settings

    from .configs import resolve_configs
    from .dataset import load_qa
    from .gate import DEFAULT_THRESHOLDS, Thresholds
    from .report import report_folder, table, write_reports
    from .runner import EvalRunner, IndexCache

    started = time.perf_counter()
    gating = args.command == "gate" or args.gate
    thresholds = Thresholds.load(args.thresholds or DEFAULT_THRESHOLDS) if gating else None
    if args.command == "gate":
        names = [thresholds.config]  # type: ignore[union-attr]
    else:
        names = args.config or ["default"]
    configs = resolve_configs(names)
    items = load_qa(args.qa)
    if args.limit is not None:
        if args.limit < 1:
            print(f"error: --limit must be at least 1, got {args.limit}", file=err)
            return 2
        items = items[:args.limit]
    base = Settings.load(args.base_settings, env={}) if args.base_settings else Settings()
    judge, note = _make_judge(args.judge) if args.command == "run" else (None, "")
    progress = (lambda message: None) if args.quiet else \
        (lambda message: print(f"[evals] {message}", file=err, flush=True))
    if judge is None and note:
        progress(note)
    runner = EvalRunner(args.corpus, items, IndexCache(args.cache), base, judge, note,
                        progress, qa_path=args.qa)
    run = runner.run(configs)

    written: dict[str, Path] = {}
    folder = getattr(args, "report", None) if args.command == "gate" else \
        (None if args.no_report else args.out)
    if folder is not None:
        written = write_reports(run, report_folder(folder))
    violations: list[Any] = []
    if thresholds is not None:
        try:
            gated = run.config(thresholds.config)
        except KeyError:
            print(f"error: the gate checks configuration {thresholds.config!r}, which this "
                  "run did not include", file=err)
            return 2
        violations = thresholds.check(gated.summary)
    seconds = time.perf_counter() - started
    if args.json:
        data = run.as_json()
        data["reports"] = {k: str(v) for k, v in written.items()}
        if thresholds is not None:
            data["gate"] = {"config": thresholds.config, "passed": not violations,
                            "violations": [str(v) for v in violations]}
        data["total_seconds"] = round(seconds, 2)
        print(json.dumps(data, ensure_ascii=False, indent=2), file=out)
    else:
        print(table(run), file=out)
        if written:
            print(f"report: {written['markdown']}\n        {written['html']}", file=out)
    if thresholds is not None:
        if violations:
            for v in violations:
                print(f"GATE FAILED: {v}", file=err)
            return 1
        print(f"gate passed ({thresholds.config}, {len(thresholds.minimum)} minimums, "
              f"{len(thresholds.maximum)} maximums) in {seconds:.1f} s", file=err)
    return 0


def _make_judge(flag: bool) -> tuple[Any, str]:
    """The LLM judge when asked for (``--judge`` or ASSISTANT_LLM_JUDGE), else a note."""
    from assistant import Settings

    from .judge import ENV_FLAG, LLMJudge, judge_requested

    if not judge_requested(flag, dict(os.environ)):
        return None, (f"LLM-judged metrics (faithfulness, relevancy) skipped: pass --judge or "
                      f"set {ENV_FLAG}=1 with an OpenAI-compatible endpoint in llm_base_url")
    settings = Settings.load()
    judge = LLMJudge.from_settings(settings)
    return judge, f"LLM judge: {judge.describe()}"
