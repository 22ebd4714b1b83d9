"""Feedback on answers (thumbs up or down, optional comment) in a local SQLite file.

Questions and comments are stored with personal data masked
(:func:`assistant.privacy.mask_personal_data`). Export to CSV::

    python -m assistant.ui.feedback export --db feedback.sqlite3 [--out feedback.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TextIO

from ..privacy import mask_personal_data
from . import texts

DEFAULT_DB = Path("feedback.sqlite3")
RATINGS = ("up", "down")
COLUMNS = ("id", "created_at", "rating", "question", "answer", "citations", "comment",
           "embedder", "retriever", "answerer", "filters")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    embedder TEXT NOT NULL DEFAULT '',
    retriever TEXT NOT NULL DEFAULT '',
    answerer TEXT NOT NULL DEFAULT '',
    filters TEXT NOT NULL DEFAULT '{}'
)
"""


@dataclass(frozen=True)
class FeedbackRecord:
    rating: str
    question: str
    answer: str
    citations: Sequence[Mapping[str, Any]] = ()
    comment: str = ""
    embedder: str = ""
    retriever: str = ""
    answerer: str = ""
    filters: Mapping[str, Any] | None = None


class FeedbackStore:
    """Adds, annotates and lists feedback rows; one short connection per call, so it can
    be used from Gradio's worker threads."""

    def __init__(self, path: str | Path = DEFAULT_DB,
                 mask: Callable[[str], str] = mask_personal_data) -> None:
        if not str(path).strip():
            raise ValueError("path must name a file, got an empty string")
        self.path = Path(path)
        self.mask = mask

    def _connect(self) -> sqlite3.Connection:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(_SCHEMA)
        return connection

    def add(self, record: FeedbackRecord) -> int:
        """Store a rating; returns its id (to attach a comment later)."""
        if record.rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)}, got {record.rating!r}")
        row = (datetime.now(timezone.utc).isoformat(timespec="seconds"), record.rating,
               self.mask(record.question), record.answer,
               json.dumps(list(record.citations), ensure_ascii=False),
               self.mask(record.comment), record.embedder, record.retriever, record.answerer,
               json.dumps(dict(record.filters or {}), ensure_ascii=False))
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, citations, "
                "comment, embedder, retriever, answerer, filters) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cursor.lastrowid)

    def comment(self, feedback_id: int, comment: str) -> bool:
        """Attach a (masked) comment to a stored rating; False when the id is unknown."""
        with closing(self._connect()) as db, db:
            cursor = db.execute("UPDATE feedback SET comment = ? WHERE id = ?",
                                (self.mask(comment or "").strip(), int(feedback_id)))
            return cursor.rowcount > 0

    def rows(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return iter(())
        with closing(self._connect()) as db:
            cursor = db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id")
            return iter([dict(zip(COLUMNS, r)) for r in cursor.fetchall()])

    def export_csv(self, out: TextIO) -> int:
        """Write every row as CSV; returns the number of rows."""
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        count = 0
        for row in self.rows():
            writer.writerow(row)
            count += 1
        return count


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m assistant.ui.feedback",
                                     description="Valutazioni delle risposte raccolte dall'app")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="esporta le valutazioni in CSV")
    export.add_argument("--db", type=Path, default=DEFAULT_DB,
                        help=f"file SQLite delle valutazioni (default {DEFAULT_DB})")
    export.add_argument("--out", type=Path, help="file CSV da scrivere (default: schermo)")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(texts.text("feedback.export_missing", db=args.db), file=err)
        return 1
    store = FeedbackStore(args.db)
    if args.out:
        with args.out.open("w", encoding="utf-8", newline="") as handle:
            count = store.export_csv(handle)
        print(texts.text("feedback.export_done", count=count, out=args.out), file=err)
    else:
        store.export_csv(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
