"""Reports of a run: a terminal table, Markdown, an HTML page with inline SVG plots, JSON."""

from __future__ import annotations

import html
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from .metrics import HEADLINE, METRIC_BY_KEY, METRICS, QuestionScore, percentile
from .runner import ROOT, EvalRun
from .suite import MACRO, SUITE_METRICS, SuiteRun

KIND_METRICS = ("doc_hit@5", "passage_mrr", "fact_recall", "all_facts", "citation_support",
                "refusal_recall", "false_refusal_rate", "passed", "latency_p50_ms")
PLOTTED = ("doc_hit@1", "doc_hit@5", "doc_mrr", "passage_hit@5", "passage_mrr",
           "passage_recall@5", "fact_recall", "all_facts", "citation_gold_doc",
           "citation_support", "refusal_precision", "refusal_recall", "false_refusal_rate",
           "passed", "judge_faithfulness", "judge_relevancy")
PALETTE = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2",
           "#97bbf5", "#9c6b4e", "#9498a0")
MAX_ANSWER_CHARS = 900


def fmt(key: str, value: Any) -> str:
    """A metric value for people: percentages with one decimal, milliseconds whole."""
    if value is None:
        return "–"
    metric = METRIC_BY_KEY.get(key)
    if metric is not None and not metric.percent:
        return f"{value:.0f}"
    if metric is None:
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{100 * value:.1f}"


def label(key: str) -> str:
    metric = METRIC_BY_KEY.get(key)
    return metric.label if metric else key


def present_metrics(run: EvalRun) -> list[str]:
    """Metrics with a value in at least one configuration."""
    return [m.key for m in METRICS
            if any(c.summary.get(m.key) is not None for c in run.configs)]


# ---- terminal --------------------------------------------------------------------------------
def table(run: EvalRun, metrics: tuple[str, ...] = HEADLINE) -> str:
    """One row per configuration, headline metrics as columns (percent, latency in ms)."""
    header = ["config"] + list(metrics)
    rows = [[c.name] + [fmt(m, c.summary.get(m)) for m in metrics] for c in run.configs]
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                       for i, (v, w) in enumerate(zip(row, widths)))
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    data = run.dataset
    foot = (f"{data.get('questions', 0)} questions ({data.get('unanswerable', 0)} "
            f"unanswerable) on {run.corpus_dir}; percentages except latency (ms); "
            f"{run.seconds:.1f} s. {run.judge_note}").strip()
    return "\n".join(lines + [foot])


# ---- Markdown --------------------------------------------------------------------------------
def _md_table(header: list[str], rows: list[list[str]], numeric: bool = True) -> str:
    def cell(value: str) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |",
           "|" + "|".join("---" if i == 0 or not numeric else "---:"
                          for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def markdown(run: EvalRun) -> str:
    names = [c.name for c in run.configs]
    parts = [f"# Evaluation report — {run.started}", "",
             f"- Corpus: `{run.corpus_dir}`", f"- Questions: `{run.qa_path}` — "
             + ", ".join(f"{k} {v}" for k, v in run.dataset.items()),
             f"- Duration: {run.seconds:.1f} s",
             f"- {run.judge_note or 'LLM judge: not run'}", "",
             "Percentages except latency (milliseconds). Retrieval metrics count answerable "
             "questions; a gold passage is a retrieved chunk of a gold document holding a "
             "reference fact.", "", "## Summary", ""]
    rows = [[label(m)] + [fmt(m, c.summary.get(m)) for c in run.configs]
            for m in present_metrics(run)]
    parts += [_md_table(["metric"] + names, rows), "", "## Configurations", ""]
    parts.append(_md_table(
        ["config", "description", "settings", "index"],
        [[c.name, c.config.description,
          ", ".join(f"{k}={v}" for k, v in c.settings.items()),
          f"{'reused' if c.index.get('reused') else 'built'} in {c.index.get('seconds')} s, "
          f"{c.index.get('chunks')} chunks"] for c in run.configs], numeric=False))
    parts += ["", "## By kind of question", ""]
    for result in run.configs:
        parts += [f"### {result.name}", ""]
        parts.append(_md_table(
            ["kind", "n"] + [label(m) for m in KIND_METRICS],
            [[kind, str(s["questions"])] + [fmt(m, s.get(m)) for m in KIND_METRICS]
             for kind, s in result.by_kind.items()]))
        parts.append("")
    parts += ["## Failed questions", ""]
    for result in run.configs:
        failures = result.failures
        parts += [f"### {result.name} — {len(failures)} of {len(result.scores)}", ""]
        for score in failures:
            parts += _md_failure(score)
    return "\n".join(parts).rstrip() + "\n"


def _short(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def _md_failure(score: QuestionScore) -> list[str]:
    out = [f"**{score.id}** ({score.kind}) — {score.question}", ""]
    out.append("- Why: " + "; ".join(score.failures))
    if score.facts:
        out.append("- Expected facts: " + "; ".join(f"`{f}`" for f in score.facts))
    if score.gold_sources:
        rank = score.doc_rank or "not retrieved"
        out.append(f"- Gold: {', '.join(score.gold_sources)} (first rank: {rank})")
    cited = ", ".join(sorted({c["source"] for c in score.citations})) or "none"
    out.append(f"- Cited: {cited}")
    answer = _short(score.answer or score.error or "")
    out += ["- Answer given:", ""] + ["  > " + line for line in answer.splitlines()] + [""]
    return out


# ---- HTML ------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(run: EvalRun, metric: str, width: int = 340) -> str:
    """Horizontal bars, one per configuration, 0-100 %."""
    row, left, right = 18, 90, 44
    results = run.configs
    height = row * len(results) + 30
    inner = width - left - right
    out = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
           f'aria-label="{_e(label(metric))}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="0" y="13" class="title">{_e(label(metric))}</text>']
    for i, result in enumerate(results):
        value = result.summary.get(metric)
        y = 22 + i * row
        out.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">'
                   f'{_e(result.name)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{inner}" height="{row - 5}" '
                   f'fill="#f0f0f0"/>')
        if value is not None:
            w = max(0.0, min(1.0, float(value))) * inner
            out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{row - 5}" '
                       f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_e(result.name)}: '
                       f'{fmt(metric, value)}%</title></rect>')
        out.append(f'<text x="{left + inner + 4}" y="{y + 11}">{fmt(metric, value)}</text>')
    out.append("</svg>")
    return "".join(out)


def latency_chart(run: EvalRun, width: int = 760) -> str:
    """Per configuration: every question's latency as a dot, with the p25-p75 box, the p50
    line and a whisker to p95, on a logarithmic axis (configurations differ by orders of
    magnitude)."""
    row, left, right = 26, 90, 20
    latencies = {r.name: [max(s.latency_ms, 0.01) for s in r.scores if s.error is None]
                 for r in run.configs}
    every = [v for values in latencies.values() for v in values] or [1.0, 10.0]
    low = 10 ** math.floor(math.log10(min(every)))
    high = 10 ** math.ceil(math.log10(max(every) * 1.0001))
    span = math.log10(high) - math.log10(low) or 1.0
    inner = width - left - right
    height = row * len(run.configs) + 44

    def x(ms: float) -> float:
        return left + inner * (math.log10(ms) - math.log10(low)) / span

    out = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
           f'aria-label="latency distribution" xmlns="http://www.w3.org/2000/svg">',
           '<text x="0" y="13" class="title">Latency per question (ms, log scale): dots, '
           'box p25–p75, line p50, whisker to p95</text>']
    for i, result in enumerate(run.configs):
        values = latencies[result.name]
        y = 24 + i * row
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">'
                   f'{_e(result.name)}</text>')
        if not values:
            continue
        p25, p50, p75, p95 = (percentile(values, q) or 0.01 for q in (25, 50, 75, 95))
        out.append(f'<line x1="{x(p75):.1f}" x2="{x(p95):.1f}" y1="{y + 10}" y2="{y + 10}" '
                   f'stroke="#555"/>')
        out.append(f'<rect x="{x(p25):.1f}" y="{y + 2}" width="{max(1.0, x(p75) - x(p25)):.1f}"'
                   f' height="16" fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>')
        out.append(f'<line x1="{x(p50):.1f}" x2="{x(p50):.1f}" y1="{y}" y2="{y + 20}" '
                   f'stroke="#000" stroke-width="2"><title>p50 {p50:.0f} ms</title></line>')
        for j, ms in enumerate(values):
            jitter = (j * 7919 % 13) - 6
            out.append(f'<circle cx="{x(ms):.1f}" cy="{y + 10 + jitter * 0.6:.1f}" r="1.6" '
                       f'fill="{colour}" fill-opacity="0.6"><title>{ms:.0f} ms</title>'
                       '</circle>')
    axis_y = 24 + len(run.configs) * row
    out.append(f'<line x1="{left}" x2="{left + inner}" y1="{axis_y}" y2="{axis_y}" '
               'stroke="#999"/>')
    tick = low
    while tick <= high * 1.0001:
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{axis_y}" '
                   f'y2="{axis_y + 4}" stroke="#999"/><text x="{x(tick):.1f}" '
                   f'y="{axis_y + 16}" text-anchor="middle">{tick:g}</text>')
        tick *= 10
    out.append("</svg>")
    return "".join(out)


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;
color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:3px 7px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f6f6}
.charts{display:flex;flex-wrap:wrap;gap:10px 26px}svg.chart text{font-size:11px}
svg.chart text.title{font-weight:600;font-size:12px}
details{margin:4px 0 14px}summary{cursor:pointer;font-weight:600}
.q{border-left:3px solid #ff725c;padding:4px 10px;margin:10px 0;background:#fffafa}
.answer{white-space:pre-wrap;background:#f7f7f7;padding:6px;font-size:13px}
code{background:#f0f0f0;padding:0 3px}.muted{color:#777}
"""


def html_page(run: EvalRun) -> str:
    names = [c.name for c in run.configs]
    metrics = present_metrics(run)
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>Evaluation {_e(run.started)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Evaluation report</h1><p class='muted'>{_e(run.started)} — corpus "
             f"<code>{_e(run.corpus_dir)}</code>, questions <code>{_e(run.qa_path)}</code> ("
             + _e(", ".join(f"{k} {v}" for k, v in run.dataset.items()))
             + f"), {run.seconds:.1f} s. {_e(run.judge_note or 'LLM judge: not run')}</p>",
             "<h2>Metrics by configuration</h2><div class='charts'>"]
    parts += [bar_chart(run, m) for m in PLOTTED if m in metrics]
    parts.append("</div><h2>Latency</h2>" + latency_chart(run))
    parts.append("<h2>Summary</h2><table><tr><th>metric</th>"
                 + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>")
    for m in metrics:
        parts.append(f"<tr><td>{_e(label(m))}</td>" + "".join(
            f"<td class='n'>{fmt(m, c.summary.get(m))}</td>" for c in run.configs) + "</tr>")
    parts.append("</table><p class='muted'>Percentages except latency (ms).</p>")
    parts.append("<h2>Configurations</h2><table><tr><th>config</th><th>description</th>"
                 "<th>settings</th><th>index</th></tr>")
    for c in run.configs:
        settings = ", ".join(f"{k}={v}" for k, v in c.settings.items())
        index = (f"{'reused' if c.index.get('reused') else 'built'} in "
                 f"{c.index.get('seconds')} s, {c.index.get('chunks')} chunks")
        parts.append(f"<tr><td>{_e(c.name)}</td><td>{_e(c.config.description)}</td>"
                     f"<td>{_e(settings)}</td><td>{_e(index)}</td></tr>")
    parts.append("</table><h2>By kind of question</h2>")
    for result in run.configs:
        parts.append(f"<h3>{_e(result.name)}</h3><table><tr><th>kind</th><th>n</th>"
                     + "".join(f"<th>{_e(label(m))}</th>" for m in KIND_METRICS) + "</tr>")
        for kind, s in result.by_kind.items():
            parts.append(f"<tr><td>{_e(kind)}</td><td class='n'>{s['questions']}</td>"
                         + "".join(f"<td class='n'>{fmt(m, s.get(m))}</td>"
                                   for m in KIND_METRICS) + "</tr>")
        parts.append("</table>")
    parts.append("<h2>Failed questions</h2>")
    for result in run.configs:
        failures = result.failures
        parts.append(f"<details><summary>{_e(result.name)}: {len(failures)} of "
                     f"{len(result.scores)} failed</summary>")
        parts += [_html_failure(s) for s in failures]
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_failure(score: QuestionScore) -> str:
    facts = "; ".join(f"<code>{_e(f)}</code>" for f in score.facts) or "–"
    cited = ", ".join(sorted({c["source"] for c in score.citations})) or "none"
    gold = ", ".join(score.gold_sources) or "none (unanswerable)"
    return (f"<div class='q'><b>{_e(score.id)}</b> ({_e(score.kind)}) — {_e(score.question)}"
            f"<br>Why: {_e('; '.join(score.failures))}<br>Expected facts: {facts}"
            f"<br>Gold: {_e(gold)} (first rank: {_e(score.doc_rank or 'not retrieved')}); "
            f"cited: {_e(cited)}<div class='answer'>"
            f"{_e(_short(score.answer or score.error or ''))}</div></div>")


# ---- files -----------------------------------------------------------------------------------
def report_folder(root: str | Path) -> Path:
    """A new timestamped folder under ``root``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(root) / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = Path(root) / f"{stamp}-{n}"
    folder.mkdir(parents=True)
    return folder


def write_reports(run: EvalRun, folder: str | Path) -> dict[str, Path]:
    """report.md, report.html, summary.json and questions.jsonl in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": folder / "report.md", "html": folder / "report.html",
             "json": folder / "summary.json", "questions": folder / "questions.jsonl"}
    paths["markdown"].write_text(markdown(run), encoding="utf-8")
    paths["html"].write_text(html_page(run), encoding="utf-8")
    paths["json"].write_text(json.dumps(run.as_json(), ensure_ascii=False, indent=2),
                             encoding="utf-8")
    with paths["questions"].open("w", encoding="utf-8") as out:
        for result in run.configs:
            for score in result.scores:
                out.write(json.dumps(score.as_dict(), ensure_ascii=False, default=str) + "\n")
    return paths


# ---- suite -----------------------------------------------------------------------------------
def _suite_rows(run: SuiteRun, config: str) -> tuple[list[str], list[list[str]]]:
    """Header (metric, each set, macro average) and one row per suite metric."""
    summaries = run.summaries(config)
    macro = run.macro(config)
    header = ["metric"] + list(summaries) + [MACRO]
    rows = [["questions"] + [str(s["questions"]) for s in summaries.values()]
            + [str(macro["questions"])]]
    rows += [[key] + [fmt(key, s.get(key)) for s in summaries.values()]
             + [fmt(key, macro.get(key))] for key in SUITE_METRICS]
    return header, rows


def suite_table(run: SuiteRun, config: str) -> str:
    """A terminal table of one configuration: metrics down, sets across, macro average last."""
    header, rows = _suite_rows(run, config)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                       for i, (v, w) in enumerate(zip(row, widths)))
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([f"configuration {config}:"] + lines
                     + [f"percentages except latency (ms); {run.seconds:.1f} s", ""])


def suite_markdown(run: SuiteRun) -> str:
    """The suite report: a table per configuration, then what each set is."""
    parts = [f"# Suite report — {run.started}", "",
             f"Duration {run.seconds:.1f} s. Percentages except latency (milliseconds); the "
             "macro average is the unweighted mean over sets (of the p95s, for latency).", "",
             "Metrics: " + "; ".join(f"`{key}` {label(key)}" for key in SUITE_METRICS), ""]
    for config in run.config_names:
        header, rows = _suite_rows(run, config)
        parts += [f"## {config}", "", _md_table(header, rows), ""]
    parts += ["## Reference sets", ""]
    for name, reference in run.references.items():
        data = run.runs[name].dataset
        files = ", ".join(f"`{q.name}`" for q in reference.qa)
        parts.append(f"- **{name}** (`{_relative(reference.corpus)}`; {files}; "
                     + ", ".join(f"{k} {v}" for k, v in data.items()) + "): "
                     + reference.description)
    return "\n".join(parts).rstrip() + "\n"


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def write_suite_reports(run: SuiteRun, folder: str | Path) -> dict[str, Path]:
    """suite.md and suite.json in ``folder``, and each set's full reports in ``folder/<set>``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": folder / "suite.md", "json": folder / "suite.json"}
    paths["markdown"].write_text(suite_markdown(run), encoding="utf-8")
    paths["json"].write_text(json.dumps(run.as_json(), ensure_ascii=False, indent=2),
                             encoding="utf-8")
    for name, set_run in run.runs.items():
        write_reports(set_run, folder / name)
    return paths
