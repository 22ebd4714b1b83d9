"""Command line of the evaluation harness.

    python -m evals run   [--corpus DIR] [--qa FILE] [--config NAME_OR_FILE ...] [--json]
                          [--judge] [--gate] [--out DIR] [--no-report] [--limit N]
    python -m evals run --suite [--sets A,B] ...          (every set of evals/suite.yaml)
    python -m evals suite [--sets A,B] ...                (the same)
    python -m evals gate  [--thresholds FILE] [--sets A,B] [--report DIR]
                          (per set of the suite; a single-set thresholds file gates
                          --corpus/--qa instead)
    python -m evals check [--corpus DIR] [--qa FILE] | --suite   (the reference sets themselves)

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
from .suite import DEFAULT_SUITE


def _share(text: str) -> float:
    """A share in [0, 1) for argparse ("0.02")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals",
                                     description="Evaluate the assistant on reference questions.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                       help="corpus folder (default: the demo corpus)")
        p.add_argument("--qa", type=Path, default=DEFAULT_QA,
                       help="reference questions, JSONL (default: evals/qa/demo.jsonl)")

    def suite_options(p: argparse.ArgumentParser, flag: bool = True) -> None:
        if flag:
            p.add_argument("--suite", action="store_true",
                           help="every reference set of the suite file, each on its corpus")
        p.add_argument("--suite-file", type=Path, default=DEFAULT_SUITE,
                       help="the suite's sets (default: evals/suite.yaml)")
        p.add_argument("--sets", action="append", default=None, metavar="NAMES",
                       help="only these sets of the suite (comma list, repeatable)")

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

    def reporting(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", action="append", default=None, metavar="NAME_OR_FILE",
                       help="configuration name (evals/configs), file, comma list or 'all'; "
                            "repeatable (default: default)")
        p.add_argument("--out", type=Path, default=DEFAULT_REPORTS,
                       help="reports go to OUT/<timestamp>/ (default: evals/reports)")
        p.add_argument("--no-report", action="store_true", help="write no report files")
        p.add_argument("--judge", action="store_true",
                       help="LLM-judged faithfulness and relevancy (also ASSISTANT_LLM_JUDGE=1)")
        p.add_argument("--gate", action="store_true",
                       help="also check the thresholds (evals/thresholds.yaml)")
        p.add_argument("--thresholds", type=Path, default=None)

    run = sub.add_parser("run", help="run configurations and write a report")
    running(run)
    suite_options(run)
    reporting(run)

    suite = sub.add_parser("suite", help="the same as run --suite: every reference set, "
                                         "each on its corpus, and the macro average")
    running(suite)
    suite_options(suite, flag=False)
    reporting(suite)

    gate = sub.add_parser("gate", help="regression gate: the default configuration against "
                                       "evals/thresholds.yaml, per reference set")
    running(gate)
    suite_options(gate, flag=False)
    gate.add_argument("--thresholds", type=Path, default=None)
    gate.add_argument("--report", type=Path, default=None, metavar="DIR",
                      help="also write a report to DIR/<timestamp>/")

    check = sub.add_parser("check", help="validate a reference set against its corpus")
    common(check)
    check.add_argument("--no-minimums", action="store_true",
                       help="do not require the minimum counts of the demo set")
    suite_options(check)

    fitting = sub.add_parser("fit", help="fit the answer model on every reference set, "
                                         "report each set held out (evals/fit.py)")
    fitting.add_argument("--suite", type=Path, default=None, help="suite file (default: "
                                                                 "evals/suite.yaml)")
    fitting.add_argument("--sets", action="append", default=None, metavar="NAME",
                         help="only these reference sets (comma list, repeatable)")
    fitting.add_argument("--cache", type=Path, default=None)
    fitting.add_argument("--base-settings", type=Path, default=None)
    fitting.add_argument("--dry-run", action="store_true",
                         help="report only; do not write assistant/data/answer_model.yaml")
    fitting.add_argument("--threshold-rule", choices=("in-sample", "cross-validated"),
                         default=None, help="how the refusal threshold is chosen "
                                            "(default: evals.fit.THRESHOLD_RULE)")
    fitting.add_argument("--max-false-refusal", type=_share, default=None, metavar="SHARE",
                         help="most answerable questions of any training set the threshold "
                              "may refuse (default: evals.fit.MAX_FALSE_REFUSAL, 0.05)")
    fitting.add_argument("--json", action="store_true")
    fitting.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    configure_offline_environment()
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check_suite(args, out) if args.suite else _check(args, out)
        if args.command == "fit":
            from .fit import main as fit_main

            return fit_main(args, out, err)
        if args.command == "suite":
            args.suite = True
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


def _check_suite(args: argparse.Namespace, out: TextIO) -> int:
    from .dataset import counts

    suite = _suite(args)
    problems = 0
    for reference in suite.sets:
        found = reference.check()
        problems += len(found)
        print(f"{reference.name}: " + json.dumps(counts(reference.items()),
                                                  ensure_ascii=False), file=out)
        for problem in found:
            print(f"problem: {reference.name}: {problem}", file=out)
    print("ok" if not problems else f"{problems} problem(s)", file=out)
    return 1 if problems else 0


def _suite(args: argparse.Namespace) -> Any:
    from .suite import Suite

    suite = Suite.load(args.suite_file)
    return suite.select(args.sets) if args.sets else suite


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .gate import DEFAULT_THRESHOLDS, SuiteThresholds, load_thresholds

    thresholds = None
    if args.command == "gate" or args.gate:
        thresholds = load_thresholds(args.thresholds or DEFAULT_THRESHOLDS)
    if args.command == "gate":
        args.suite = isinstance(thresholds, SuiteThresholds)
    if getattr(args, "suite", False):
        if thresholds is not None and not isinstance(thresholds, SuiteThresholds):
            print("error: a suite run is gated by a per-set thresholds file (with 'sets:')",
                  file=err)
            return 2
        return _run_suite(args, thresholds, out, err)
    if isinstance(thresholds, SuiteThresholds):
        print("error: a per-set thresholds file gates the suite: use --suite, or give a "
              "single-set file with --thresholds", file=err)
        return 2
    return _run_single(args, thresholds, out, err)


def _run_single(args: argparse.Namespace, thresholds: Any, out: TextIO, err: TextIO) -> int:
    from .configs import resolve_configs
    from .dataset import load_qa
    from .report import report_folder, table, write_reports
    from .runner import EvalRunner, IndexCache

    started = time.perf_counter()
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
    base = _base_settings(args)
    judge, note = _make_judge(args.judge) if args.command != "gate" else (None, "")
    progress = _progress(args, err)
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
        _print_json(run, written, thresholds, violations, seconds, out)
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


def _run_suite(args: argparse.Namespace, thresholds: Any, out: TextIO, err: TextIO) -> int:
    from .configs import resolve_configs
    from .report import report_folder, write_suite_reports
    from .runner import IndexCache
    from .suite import SuiteRunner

    started = time.perf_counter()
    suite = _suite(args)
    if thresholds is not None:
        if args.command == "gate" and not args.sets:
            suite = suite.select(thresholds.sets)  # the sets the thresholds name
        missing = [name for name in suite.names if name not in thresholds.sets]
        if missing:
            print(f"error: no thresholds for set(s) {', '.join(missing)}", file=err)
            return 2
    names = [thresholds.config] if args.command == "gate" else (args.config or ["default"])
    configs = resolve_configs(names)
    judge, note = _make_judge(args.judge) if args.command != "gate" else (None, "")
    factory = None
    if judge is not None:  # a fresh judge per set: each runner closes its own
        judge.close()
        factory = lambda: _make_judge(True)[0]  # noqa: E731
    progress = _progress(args, err)
    if note and judge is None:
        progress(note)
    runner = SuiteRunner(suite, IndexCache(args.cache, keep=max(8, 2 * len(suite.sets))),
                         _base_settings(args), factory, note, progress, args.limit)
    run = runner.run(configs)
    folder = getattr(args, "report", None) if args.command == "gate" else \
        (None if args.no_report else args.out)
    written = write_suite_reports(run, report_folder(folder)) if folder is not None else {}
    violations: list[Any] = []
    if thresholds is not None:
        if thresholds.config not in run.config_names:
            print(f"error: the gate checks configuration {thresholds.config!r}, which this "
                  "run did not include", file=err)
            return 2
        violations = thresholds.check(run.summaries(thresholds.config), only=run.runs)
    _print_suite(args, run, written, thresholds, violations, time.perf_counter() - started,
                 out)
    if thresholds is None:
        return 0
    for v in violations:
        print(f"GATE FAILED: {v}", file=err)
    if violations:
        return 1
    bounds = sum(len(t.minimum) + len(t.maximum) for n, t in thresholds.sets.items()
                 if n in run.runs)
    print(f"gate passed ({thresholds.config}, {len(run.runs)} sets, {bounds} bounds) in "
          f"{time.perf_counter() - started:.1f} s", file=err)
    return 0


def _print_json(run: Any, written: dict[str, Path], thresholds: Any, violations: list[Any],
                seconds: float, out: TextIO) -> None:
    """The run as JSON, with the report files written and the gate's verdict."""
    data = run.as_json()
    data["reports"] = {k: str(v) for k, v in written.items()}
    if thresholds is not None:
        data["gate"] = {"config": thresholds.config, "passed": not violations,
                        "violations": [str(v) for v in violations]}
    data["total_seconds"] = round(seconds, 2)
    print(json.dumps(data, ensure_ascii=False, indent=2), file=out)


def _print_suite(args: argparse.Namespace, run: Any, written: dict[str, Path],
                 thresholds: Any, violations: list[Any], seconds: float, out: TextIO) -> None:
    from .report import suite_table

    if args.json:
        _print_json(run, written, thresholds, violations, seconds, out)
        return
    for name in run.config_names:
        print(suite_table(run, name), file=out)
    if written:
        print(f"report: {written['markdown']}\n        {written['json']}", file=out)


def _base_settings(args: argparse.Namespace) -> Any:
    from assistant import Settings

    return Settings.load(args.base_settings, env={}) if args.base_settings else Settings()


def _progress(args: argparse.Namespace, err: TextIO) -> Any:
    if args.quiet:
        return lambda message: None
    return lambda message: print(f"[evals] {message}", file=err, flush=True)


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
