"""Stage times of one file's ingest: every second goes to the innermost open stage."""

from __future__ import annotations

import pytest

from assistant import Assistant, HashingEmbedder, Settings
from assistant.ingestion.timing import StageTimes


class Ticks:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_nested_stages_book_their_own_time_only():
    times = StageTimes(clock=Ticks())
    with times.stage("parse"):          # reads 1
        with times.stage("clean_chunk"):  # reads 2, 3
            pass
        with times.stage("embed"):      # reads 4, 7
            with times.stage("store"):  # reads 5, 6
                pass
    # parse closes at 8: 7 s in all, of which 1 + 3 s inside
    assert times.seconds == {"clean_chunk": 1.0, "store": 1.0, "embed": 2.0, "parse": 3.0}
    assert sum(times.seconds.values()) == 7.0


def test_a_stage_that_raises_is_still_booked():
    times = StageTimes(clock=Ticks())
    with pytest.raises(RuntimeError):
        with times.stage("parse"):
            raise RuntimeError("pdf rotto")
    assert times.seconds == {"parse": 1.0}
    with times.stage("parse"):
        pass
    assert times.seconds == {"parse": 2.0}


def test_an_ingest_reports_each_stage_and_only_for_indexed_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "piano.txt").write_text("# Servizi\n\nAssistenza domiciliare a Matino.\n",
                                      encoding="utf-8")
    bot = Assistant(Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                             embedder="hashing"), embedder=HashingEmbedder())
    first = bot.ingest()
    assert set(first.stage_seconds) == {"parse", "clean_chunk", "embed", "store"}
    assert all(seconds >= 0 for seconds in first.stage_seconds.values())
    again = bot.ingest()  # unchanged: nothing parsed, nothing booked
    assert again.files_unchanged == 1 and again.stage_seconds == {}
