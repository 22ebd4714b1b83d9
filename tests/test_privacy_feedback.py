"""Feedback: one record per answer. Changing the rating of an answer (👎 then 👍) updates
its row, keeping the comment, instead of adding a second row (issue 13, item 7)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings
from assistant.ui.callbacks import UIController
from assistant.ui.feedback import FeedbackRecord, FeedbackStore

DEMO = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Assistant:
    folder = tmp_path_factory.mktemp("rating")
    shutil.copytree(DEMO, folder / "corpus")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index",
                        embedder="hashing")
    assistant = Assistant(settings, embedder=HashingEmbedder())
    assistant.ingest()
    return assistant


def count_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, rating, comment FROM feedback ORDER BY id").fetchall()


def test_switching_the_thumb_updates_the_same_record(bot, tmp_path):
    db = tmp_path / "fb.sqlite3"
    ui = UIController(bot, feedback=FeedbackStore(db))
    history, _, records = list(ui.chat("Che cos'è il PUA?", [], []))[-1]
    status, first = ui.rate(records, history, 1, "Dislike")
    assert first and "segnalazione" in status
    assert ui.add_comment(first, "Manca l'orario")
    status, second = ui.rate(records, history, 1, "Like")
    assert second == first and "positiva" in status
    assert ui.rate(records, history, 1, None) == ("", None)  # withdrawn: the row stays
    assert ui.rate(records, history, 1, False)[1] == first
    assert count_rows(db) == [(first, "down", "Manca l'orario")]
    # another answer of the same conversation gets its own row
    history, _, records = list(ui.chat("Quanto vale il progetto PNRR di Galatina?",
                                       history, records))[-1]
    _, other = ui.rate(records, history, 3, True)
    assert other != first
    assert [r[1] for r in count_rows(db)] == ["down", "up"]


def test_a_rating_whose_row_is_gone_is_stored_again(bot, tmp_path):
    db = tmp_path / "fb.sqlite3"
    ui = UIController(bot, feedback=FeedbackStore(db))
    history, _, records = list(ui.chat("Che cos'è il PUA?", [], []))[-1]
    _, first = ui.rate(records, history, 1, True)
    db.unlink()  # the operator emptied the database
    _, again = ui.rate(records, history, 1, False)
    assert again and [r[1] for r in count_rows(db)] == ["down"]


def test_rerate_changes_only_the_rating(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    fid = store.add(FeedbackRecord("down", "domanda", "risposta", comment="commento"))
    assert store.rerate(fid, "up") and not store.rerate(fid + 1, "up")
    [row] = store.rows()
    assert (row["rating"], row["comment"], row["question"]) == ("up", "commento", "domanda")
    with pytest.raises(ValueError, match="rating"):
        store.rerate(fid, "meh")
