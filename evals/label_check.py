"""Precision and recall of the operator tools on hand-labelled data of the demo corpus.

    python -m evals.label_check interventions [--set demo|second] [--workdir DIR]
                                              [--embedder use|hashing] [--json]
    python -m evals.label_check services      [--set demo|second] [...]

* ``interventions`` (``evals/labels/interventions.yaml``): the staff search's funding and
  target columns. Every row of every labelled query is matched to the labelled
  intervention whose phrase it contains; the columns of each labelled intervention found
  are compared with its labels (micro-averaged precision and recall). Rows that are not
  interventions (dates, funding cells) are counted too.
* ``services`` (``evals/labels/services.yaml``): "Servizi per me" for each labelled
  situation and comune: items listed that should be (precision) and items that should be
  listed that are (recall).

``--set second`` uses the held-out labels of the fictional second corpus
(``evals/qa/second/corpus``, ``*_second.yaml``), on which nothing was tuned.
The corpus is copied into ``--workdir`` (default: a temporary folder) and indexed there
once; an index already in the folder is reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

import yaml

ROOT = Path(__file__).resolve().parent.parent
LABELS = Path(__file__).resolve().parent / "labels"
DEMO_CORPUS = ROOT / "corpus"
# labelled sets: name -> (suffix of the label files, corpus)
SETS = {"demo": ("", DEMO_CORPUS),
        "second": ("_second", Path(__file__).resolve().parent / "qa" / "second" / "corpus")}


@dataclass
class Counts:
    """True positives, false positives and false negatives of one column."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Iterable[str], gold: Iterable[str]) -> None:
        predicted, gold = set(predicted), set(gold)
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"precision": round(self.precision, 3), "recall": round(self.recall, 3),
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


def load_labels(name: str) -> dict[str, Any]:
    return yaml.safe_load((LABELS / f"{name}.yaml").read_text(encoding="utf-8"))


def _norm(text: str) -> str:
    from assistant.text import normalize

    return " ".join(normalize(text or "").split())


def _labels(cell: str) -> list[str]:
    return [part.strip() for part in (cell or "").split(",") if part.strip()]


# ---- staff search ------------------------------------------------------------------------
@dataclass
class InterventionReport:
    funding: Counts = field(default_factory=Counts)
    targets: Counts = field(default_factory=Counts)
    filters: Counts = field(default_factory=Counts)
    found: int = 0
    labelled: int = 0
    rows: int = 0
    not_interventions: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"funding": self.funding.as_dict(), "targets": self.targets.as_dict(),
                "filters": self.filters.as_dict(), "found": self.found,
                "labelled": self.labelled, "rows": self.rows,
                "not_interventions": self.not_interventions, "missing": self.missing,
                "errors": self.errors}


def _gold_for(row: Any, golds: Sequence[dict[str, Any]]) -> int | None:
    """The labelled intervention a row is: the longest phrase its text contains (and
    whose area, when labelled, its area contains)."""
    text, area = _norm(row.intervento), _norm(row.area)
    best: tuple[int, int] | None = None
    for index, gold in enumerate(golds):
        phrase = _norm(gold["match"])
        if phrase in text and _norm(gold.get("area", "")) in area:
            if best is None or len(phrase) > best[0]:
                best = (len(phrase), index)
    return best[1] if best else None


def check_interventions(search: Any, labels: dict[str, Any] | None = None
                        ) -> InterventionReport:
    """Run every labelled query through ``search`` (an InterventionSearch) and score it."""
    labels = labels or load_labels("interventions")
    golds = labels["interventions"]
    bad = [_norm(t) for t in labels.get("not_interventions", [])]
    best_row: dict[int, Any] = {}
    report = InterventionReport(labelled=len(golds))
    spurious: set[str] = set()
    for query in labels["queries"]:
        for row in search.search(query):
            report.rows += 1
            text = _norm(row.intervento)
            if any(text == b or text.startswith(b) and len(text) < len(b) + 25 for b in bad):
                spurious.add(row.intervento)
                continue
            index = _gold_for(row, golds)
            if index is not None and (index not in best_row
                                      or len(row.intervento) < len(best_row[index].intervento)):
                best_row[index] = row
    for index, gold in enumerate(golds):
        row = best_row.get(index)
        if row is None:
            report.missing.append(gold["match"])
            continue
        report.found += 1
        funding, targets = _labels(row.fonte), _labels(row.destinatari)
        report.funding.add(funding, gold.get("funding") or [])
        report.targets.add(targets, gold.get("targets") or [])
        if set(funding) != set(gold.get("funding") or []) \
                or set(targets) != set(gold.get("targets") or []):
            report.errors.append({"match": gold["match"], "fonte": funding,
                                  "attesa_fonte": gold.get("funding") or [],
                                  "destinatari": targets,
                                  "attesi_destinatari": gold.get("targets") or []})
    report.not_interventions = sorted(spurious)
    _check_filters(search, golds, report.filters)
    return report


def _check_filters(search: Any, golds: Sequence[dict[str, Any]], counts: Counts) -> None:
    """A search by funding source or target group alone (no keywords), for every label:
    the labelled interventions it lists that have the label, those it misses, those it
    lists wrongly (rows of no labelled intervention are not counted)."""
    if not hasattr(search, "funding_labels"):   # a search without filters finds none
        for gold in golds:
            counts.fn += len(gold.get("funding") or []) + len(gold.get("targets") or [])
        return
    for column, labels in (("funding", search.funding_labels),
                           ("targets", search.target_labels)):
        for label in labels:
            option = {"funding": label} if column == "funding" else {"target": label}
            listed = {_gold_for(row, golds) for row in search.search("", **option)} - {None}
            expected = {i for i, g in enumerate(golds) if label in (g.get(column) or [])}
            counts.tp += len(listed & expected)
            counts.fp += len(listed - expected)
            counts.fn += len(expected - listed)


# ---- Servizi per me ----------------------------------------------------------------------
@dataclass
class ServicesReport:
    items: Counts = field(default_factory=Counts)
    cases: int = 0
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items.as_dict(), "cases": self.cases, "wrong": self.wrong,
                "missed": self.missed}


def check_services(finder: Any, labels: dict[str, Any] | None = None) -> ServicesReport:
    """Ask ``finder`` (a ServiceFinder) for every labelled situation and comune."""
    labels = labels or load_labels("services")
    report = ServicesReport()
    for case in labels["cases"]:
        present = [_norm(p) for p in case.get("present") or []]
        optional = [_norm(p) for p in case.get("optional") or []]
        for comune in labels["ambiti"][case["ambito"]]:
            report.cases += 1
            _notice, results = finder.find([case["situation"]], comune)
            items = [_norm(item.text) for r in results for item in r.items]
            where = f"{case['situation']}/{comune}"
            found = {p for p in present if any(p in item for item in items)}
            report.items.tp += len(found)
            report.items.fn += len(present) - len(found)
            report.missed += [f"{where}: {p}" for p in present if p not in found]
            for item in items:
                if not any(p in item for p in present + optional):
                    report.items.fp += 1
                    report.wrong.append(f"{where}: {item[:90]}")
    return report


# ---- command line ------------------------------------------------------------------------
def open_assistant(workdir: Path, embedder: str, corpus_dir: Path = DEMO_CORPUS) -> Any:
    """An assistant over a copy of a corpus in ``workdir`` (indexed when needed)."""
    from assistant import Assistant, HashingEmbedder, Settings
    from assistant.env import configure_offline_environment

    configure_offline_environment()
    corpus, index = workdir / "corpus", workdir / "index"
    if not corpus.exists():
        shutil.copytree(corpus_dir, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index, embedder=embedder)
    bot = Assistant(settings, embedder=HashingEmbedder() if embedder == "hashing" else None)
    if not index.exists():
        bot.ingest(corpus)
    return bot


def _print_interventions(report: InterventionReport, out: TextIO) -> None:
    print(f"interventi etichettati trovati: {report.found}/{report.labelled} "
          f"({report.rows} righe su tutte le ricerche)", file=out)
    for name, counts in (("fonte di finanziamento", report.funding),
                         ("destinatari", report.targets),
                         ("filtri per fonte e destinatari", report.filters)):
        print(f"{name}: precisione {counts.precision:.3f}, richiamo {counts.recall:.3f} "
              f"(tp {counts.tp}, fp {counts.fp}, fn {counts.fn})", file=out)
    print(f"righe che non sono interventi: {len(report.not_interventions)}", file=out)
    for text in report.not_interventions:
        print(f"  - {text[:90]}", file=out)
    for error in report.errors:
        print(f"  ≠ {error['match']}: fonte {error['fonte']} (attesa {error['attesa_fonte']}), "
              f"destinatari {error['destinatari']} (attesi {error['attesi_destinatari']})",
              file=out)
    for text in report.missing:
        print(f"  ? non trovato: {text}", file=out)


def _print_services(report: ServicesReport, out: TextIO) -> None:
    counts = report.items
    print(f"situazioni × comuni: {report.cases}; servizi: precisione {counts.precision:.3f}, "
          f"richiamo {counts.recall:.3f} (tp {counts.tp}, fp {counts.fp}, fn {counts.fn})",
          file=out)
    for text in report.wrong:
        print(f"  ✗ elencato a torto: {text}", file=out)
    for text in report.missed:
        print(f"  ? mancante: {text}", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m evals.label_check",
                                     description="Precisione e richiamo su dati etichettati")
    parser.add_argument("what", choices=["interventions", "services"])
    parser.add_argument("--workdir", type=Path,
                        help="cartella per la copia del corpus e l'indice (default: temporanea)")
    parser.add_argument("--set", default="demo", choices=sorted(SETS), dest="label_set",
                        help="insieme etichettato: demo (corpus/) o second (held-out)")
    parser.add_argument("--embedder", default="use", choices=["use", "hashing"])
    parser.add_argument("--json", action="store_true", help="risultato in JSON")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="label-check-"))
    suffix, corpus_dir = SETS[args.label_set]
    bot = open_assistant(workdir, args.embedder, corpus_dir)
    labels = load_labels(args.what + suffix)
    from assistant.ui.services import InterventionSearch, ServiceFinder

    if args.what == "interventions":
        report: Any = check_interventions(InterventionSearch(bot, k=40, limit=500), labels)
        printer = _print_interventions
    else:
        report = check_services(ServiceFinder(bot), labels)
        printer = _print_services
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1), file=out)
    else:
        printer(report, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
