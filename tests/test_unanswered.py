"""'Domande senza risposta': refused or 👎 questions by topic and week, masked, as CSV."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from assistant.ui.feedback import FeedbackRecord, FeedbackStore
from assistant.ui.services import unanswered_report
from assistant.ui.unanswered import (TopicFinder, UnansweredReport, iso_week, main,
                                     report_html)

REFUSAL = "Non ho trovato informazioni su «piscina» nei documenti disponibili."
CITED = [{"source": "piano.txt", "page": 3}]


def _row(question, rating="up", answer="Risposta [1].", citations=CITED,
         created_at="2026-11-23T10:00:00+00:00", **extra):
    return {"id": 1, "created_at": created_at, "rating": rating, "question": question,
            "answer": answer, "citations": json.dumps(citations), "comment": "", **extra}


def _report(rows, **kwargs):
    return UnansweredReport(lambda: rows, **kwargs)


def test_only_refused_or_thumbs_down_questions_are_kept():
    rows = [_row("Che servizi ci sono per gli anziani?"),                       # answered, 👍
            _row("Orari della piscina comunale?", answer=REFUSAL, citations=[]),
            _row("Mia madre non cammina più, che aiuti ci sono?", rating="down"),
            _row("Dove si trova il canile?", answer=REFUSAL),                  # opening
            _row("Bonus bici?", refused=True)]                                # store says so
    report = _report(rows)
    questions = report.questions()
    assert [q.question for q in questions] == [r["question"] for r in rows[1:]]
    assert [q.reason for q in questions] == ["senza risposta", "valutata negativamente",
                                             "senza risposta", "senza risposta"]


def test_topics_from_target_groups_everyday_words_glossary_and_shared_words():
    finder = TopicFinder()
    assert finder.topic("Mia madre non cammina più, che aiuti ci sono?") == "non autosufficienti"
    assert finder.topic("Dormo in macchina da due mesi") == "persone in povertà"
    assert finder.topic("Quanto costa l'ISEE?") == "ISEE"
    rows = [_row(q, rating="down") for q in (
        "Orari della piscina comunale?", "La piscina è aperta d'estate?",
        "Come posso rinnovare la carta d'identità?")]
    assert [q.topic for q in _report(rows).questions()] == ["piscina", "piscina", "altro"]


def test_counts_per_week_and_csv_in_italian_format():
    rows = [_row("Orari della piscina?", rating="down", created_at="2026-11-23T10:00:00+00:00"),
            _row("Piscina comunale aperta?", rating="down", created_at="2026-11-24T09:00:00"),
            _row("Piscina e disabili?", rating="down", created_at="2026-12-01T09:00:00"),
            _row("=HYPERLINK(\"x\") anziani", rating="down")]
    report = _report(rows)
    groups = report.groups()
    assert [(g.topic, g.count) for g in groups] == [("piscina", 2), ("anziani", 1),
                                                     ("persone con disabilità", 1)]
    piscina = next(g for g in groups if g.topic == "piscina")
    assert piscina.weeks == {"2026-W48": 2}
    text = report.topics_csv()
    assert text.startswith("\ufeffArgomento;Settimana;Domande;Esempi\r\n")
    lines = list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))
    assert ["piscina", "2026-W48", "2"] == lines[1][:3]
    assert any(cell.startswith("'=HYPERLINK") for line in lines for cell in line)
    questions = list(csv.reader(io.StringIO(report.questions_csv()[1:], newline=""),
                                delimiter=";"))
    assert questions[0] == ["Data", "Settimana", "Argomento", "Motivo", "Domanda", "Commento"]
    assert questions[1][:2] == ["23/11/2026 10:00", "2026-W48"]
    assert iso_week(None) == ""


def test_personal_data_is_masked_again_before_output():
    rows = [_row("Sono Mario Rossi, RSSMRA80A01H501U, tel 3331234567: orari piscina?",
                 rating="down")]
    report = _report(rows)
    out = report.questions_csv() + report.topics_csv()
    assert "RSSMRA80A01H501U" not in out and "3331234567" not in out
    assert "Rossi" not in out
    assert report.questions()[0].topic != "telefono"


def test_reads_a_real_feedback_store(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    store.add(FeedbackRecord("down", "Orari della piscina?", REFUSAL))
    store.add(FeedbackRecord("up", "Che cos'è il PUA?", "Il PUA è [1].", citations=CITED))
    questions = UnansweredReport(store).questions()
    assert [q.question for q in questions] == ["Orari della piscina?"]
    assert questions[0].week.startswith("20")
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="rows must be"):
        UnansweredReport(42)
    with pytest.raises(ValueError, match="min_cluster"):
        _report([], min_cluster=1)
    assert _report([]).groups() == [] and _report([]).topics_csv().count("\n") == 1


def test_command_line_export(tmp_path):
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    store.add(FeedbackRecord("down", "Orari della piscina? tel 3331234567", REFUSAL))
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", str(db)], stdout=out, stderr=err) == 0
    assert out.getvalue().startswith("\ufeffArgomento;Settimana;Domande;Esempi")
    assert "3331234567" not in out.getvalue()
    target = tmp_path / "domande.csv"
    assert main(["--db", str(db), "--questions", "--out", str(target)], stderr=err) == 0
    assert "1 righe esportate" in err.getvalue()
    assert target.read_text(encoding="utf-8-sig").startswith("Data;Settimana;Argomento")
    assert main(["--db", str(tmp_path / "assente.sqlite3")], stderr=err) == 1
    assert "non esiste" in err.getvalue()


def test_html_for_the_operator_tab(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    assert "Nessuna domanda" in unanswered_report(store)
    store.add(FeedbackRecord("down", "<script>alert(1)</script> orari piscina?", REFUSAL))
    store.add(FeedbackRecord("down", "Piscina aperta?", REFUSAL))
    page = unanswered_report(store)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert '<th scope="row">piscina</th><td>2</td>' in page
    assert report_html(_report([])).startswith('<div class="stato')
