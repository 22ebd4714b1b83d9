"""The operator tools measured on the hand-labelled demo corpus (evals/labels/*.yaml), with
the minimums they must keep. The hashing embedder runs by default; the real embedder (the
figures in the report) runs with the slow tests."""

from __future__ import annotations

import io

import pytest

from evals import label_check
from assistant.ui.services import InterventionSearch, ServiceFinder

MIN_FUNDING = (0.95, 0.95)   # precision, recall
MIN_TARGETS = (0.90, 0.85)
MIN_FILTERS = (0.90, 0.85)
MIN_SERVICES = (0.90, 0.90)


def _assert_interventions(bot, labels=None, max_not_interventions=0):
    report = label_check.check_interventions(InterventionSearch(bot, k=40, limit=500), labels)
    assert report.found >= report.labelled - 2, report.missing
    assert len(report.not_interventions) <= max_not_interventions, report.not_interventions
    assert _at_least(report.funding, MIN_FUNDING), report.errors
    assert _at_least(report.targets, MIN_TARGETS), report.errors
    assert _at_least(report.filters, MIN_FILTERS)


def _assert_services(bot, labels=None):
    report = label_check.check_services(ServiceFinder(bot), labels)
    assert report.cases >= 16
    assert report.items.precision >= MIN_SERVICES[0], report.wrong
    assert report.items.recall >= MIN_SERVICES[1], report.missed


def _at_least(counts, minimum):
    return counts.precision >= minimum[0] and counts.recall >= minimum[1]


def test_interventions_labelled(fake_assistant):
    _assert_interventions(fake_assistant)


def test_services_labelled(fake_assistant):
    _assert_services(fake_assistant)


def test_held_out_second_corpus(tmp_path):
    """The fictional Montebello corpus, labelled before the reader ever ran on it."""
    bot = label_check.open_assistant(tmp_path, "hashing", label_check.SETS["second"][1])
    # one row is the test file's own note "Pagina di prova con dati fittizi."
    _assert_interventions(bot, label_check.load_labels("interventions_second"), 1)
    _assert_services(bot, label_check.load_labels("services_second"))


@pytest.mark.slow
def test_labelled_with_the_real_embedder(real_index):
    _assert_interventions(real_index)
    _assert_services(real_index)


def test_label_check_command_prints_precision_and_recall(tmp_path):
    out = io.StringIO()
    assert label_check.main(["services", "--workdir", str(tmp_path), "--embedder", "hashing"],
                            out=out) == 0
    assert "precisione" in out.getvalue() and "richiamo" in out.getvalue()


def test_counts():
    counts = label_check.Counts()
    counts.add(["PNRR", "FNPS"], ["PNRR", "FNA"])
    assert (counts.tp, counts.fp, counts.fn) == (1, 1, 1)
    assert counts.precision == 0.5 and counts.recall == 0.5
    assert label_check.Counts().precision == 1.0
