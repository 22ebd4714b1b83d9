"""No personal data at rest: every kind (codice fiscale, Italian and Swiss phones, e-mail,
IBAN, person names) written through every path that stores text — the chat through
UIController (an answer, a refusal that repeats the question), the rating, the comment, the
logs (to a file, as the CLI and the app set them up), the CSV export — then the stored
SQLite file, log file and CSV are searched byte by byte for the raw values."""

from __future__ import annotations

import csv
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings
from assistant import cli
from assistant.privacy import PersonalDataLogFilter
from assistant.ui.callbacks import UIController
from assistant.ui.feedback import FeedbackStore, main as feedback_main

DEMO = Path(__file__).resolve().parent.parent / "corpus"

# what a citizen may type, and the raw pieces that must never be found in a stored file
PERSONAL = ("Mi chiamo Mario Rossi, codice fiscale RSSMRA80A01H501U, telefono 3331234567 "
            "o +41 79 123 45 67, e-mail mario.rossi@example.it, IBAN "
            "IT60X0542811101000000123456")
RAW = ("Mario", "Rossi", "RSSMRA80A01H501U", "3331234567", "79 123 45 67",
       "mario.rossi", "example.it", "IT60X0542811101000000123456", "Giuseppe Verdi",
       "Verdi", "Anna Bianchi", "Bianchi", "+41 ")
REFUSED = PERSONAL + ": quanto costa un volo per Parigi?"
ANSWERED = ("Sono Anna Bianchi, mio padre Giuseppe Verdi (tel. +41 79 123 45 67, "
            "RSSMRA80A01H501U) è anziano: che servizi ci sono per gli anziani a Matino?")
COMMENT = "Richiamatemi: " + PERSONAL + ". Grazie, Anna Bianchi"


def raw_values_in(path: Path) -> list[str]:
    data = path.read_bytes()
    return [value for value in RAW if value.encode("utf-8") in data]


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Assistant:
    folder = tmp_path_factory.mktemp("privacy")
    shutil.copytree(DEMO, folder / "corpus")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index",
                        embedder="hashing")
    assistant = Assistant(settings, embedder=HashingEmbedder())
    assistant.ingest()
    return assistant


@pytest.fixture
def log_file(tmp_path):
    """A file handler on the root logger, as an operator running the app would add; the CLI's
    start-up puts the masking filter on it."""
    path = tmp_path / "assistant.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield path, handler
    finally:
        root.removeHandler(handler)
        handler.close()
        for other in root.handlers:
            for found in [f for f in other.filters if isinstance(f, PersonalDataLogFilter)]:
                other.removeFilter(found)


def chat(ui: UIController, question: str, records=None, history=None):
    return list(ui.chat(question, history or [], records or []))[-1]


def test_every_kind_through_every_path_leaves_no_raw_value(bot, tmp_path, log_file,
                                                           monkeypatch):
    db = tmp_path / "feedback.sqlite3"
    ui = UIController(bot, feedback=FeedbackStore(db), export_dir=tmp_path / "export")
    # a refusal (its text repeats the question) rated down, with a comment
    history, _, records = chat(ui, REFUSED)
    assert records[0]["refused"]
    status, fid = ui.rate(records, history, 1, False)
    assert fid and ui.add_comment(fid, COMMENT)
    # a second question of the conversation (answered or refused: both are stored) rated up
    history, _, records = chat(ui, ANSWERED, records, history)
    assert len(records) == 2
    assert ui.rate(records, history, 3, True)[1]
    # the logs: the CLI sets them up, a failing chat logs its question and traceback
    path, handler = log_file
    assert cli.main(["documents", "--index", str(tmp_path / "nessun-indice")]) in (0, 1)
    assert any(isinstance(f, PersonalDataLogFilter) for f in handler.filters)

    def broken(*args, **kwargs):
        raise RuntimeError(f"embedder crashed on {args[0] if args else ''!r}")

    monkeypatch.setattr(bot, "ask_stream", broken)
    monkeypatch.setattr(bot, "ask", broken)
    history, _, records = chat(ui, REFUSED, records, history)
    handler.flush()
    log_text = path.read_text(encoding="utf-8")
    assert "chat failed for" in log_text and "RuntimeError" in log_text  # it was logged
    assert "[CODICE FISCALE]" in log_text and "[NOME]" in log_text
    # the export
    out = tmp_path / "valutazioni.csv"
    assert feedback_main(["export", "--db", str(db), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["rating"] for r in rows] == ["down", "up"]
    assert "[CODICE FISCALE]" in rows[0]["question"] and "[CODICE FISCALE]" in rows[0]["answer"]
    assert "[IBAN]" in rows[0]["comment"] and "[NOME]" in rows[1]["question"]
    assert "[TELEFONO]" in rows[1]["question"]
    for stored in (db, path, out):
        assert raw_values_in(stored) == [], stored.name


def test_the_answer_column_no_longer_repeats_the_question_in_clear(bot, tmp_path):
    """What the issue measured with sqlite3: the refusal's echo of the question."""
    ui = UIController(bot, feedback=FeedbackStore(tmp_path / "fb.sqlite3"))
    history, _, records = chat(ui, REFUSED)
    assert "RSSMRA80A01H501U" in records[0]["answer"]  # the refusal does repeat it
    ui.rate(records, history, 1, False)
    with sqlite3.connect(tmp_path / "fb.sqlite3") as conn:
        question, answer = conn.execute("SELECT question, answer FROM feedback").fetchone()
    for text in (question, answer):
        assert "RSSMRA80A01H501U" not in text and "3331234567" not in text
        assert "mario.rossi@example.it" not in text and "Rossi" not in text


def test_a_database_written_in_clear_is_scrubbed_and_exported_masked(tmp_path):
    db = tmp_path / "old.sqlite3"
    assert FeedbackStore(db).rerate(1, "up") is False  # creates the empty table
    with sqlite3.connect(db) as conn:  # a row as an older version wrote it
        conn.execute("INSERT INTO feedback (created_at, rating, question, answer, citations, "
                     "comment) VALUES ('2024-01-01', 'down', ?, ?, ?, ?)",
                     (REFUSED, "Non ho trovato informazioni su «" + REFUSED + "»",
                      '[{"text": "' + PERSONAL + '"}]', COMMENT))
    out = tmp_path / "old.csv"
    assert feedback_main(["export", "--db", str(db), "--out", str(out)]) == 0
    assert raw_values_in(out) == []
    assert raw_values_in(db) != []  # still in clear until scrubbed
    assert feedback_main(["scrub", "--db", str(db)]) == 0
    assert raw_values_in(db) == []
    assert FeedbackStore(db).scrub() == 0  # nothing left to change


def test_long_fields_are_cut_before_they_are_masked_and_stored(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    from assistant.ui.feedback import FeedbackRecord

    fid = store.add(FeedbackRecord("down", "q" * 100_000, "a" * 100_000,
                                   [{"text": "t" * 1_000_000}]))
    assert store.comment(fid, "c" * 60_000 + " mario.rossi@example.it")
    [row] = store.rows()
    assert len(row["question"]) == store.limits["question"]
    assert len(row["answer"]) == store.limits["answer"]
    assert len(row["comment"]) == store.limits["comment"]
    assert len(row["citations"]) <= store.limits["citations"]
    with pytest.raises(ValueError, match="comment"):
        FeedbackStore(tmp_path / "x.sqlite3", limits={"question": 10, "answer": 10,
                                                      "citations": 10, "comment": 0})


@pytest.mark.parametrize("size", [60_000, 1_000_000])
def test_a_huge_comment_costs_no_more_than_a_short_one(bot, tmp_path, size):
    """Issue 15: a 60,000-character comment pushed another user's request from 0.07 s to
    14.8 s (quadratic e-mail pattern, no length limit)."""
    import time

    ui = UIController(bot, feedback=FeedbackStore(tmp_path / "fb.sqlite3"))
    history, _, records = chat(ui, "Che cos'è il PUA?")
    _, fid = ui.rate(records, history, 1, False)
    comment = ("mario.rossi" * (size // 11))[:size]  # letters and dots, no '@': the old trap
    start = time.perf_counter()
    assert ui.add_comment(fid, comment)
    assert time.perf_counter() - start < 2.0  # generous: a few milliseconds in fact
    [row] = ui.feedback.rows()
    assert len(row["comment"]) <= ui.feedback.limits["comment"]
