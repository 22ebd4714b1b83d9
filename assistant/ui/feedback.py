"""Feedback on answers (thumbs up or down, optional comment) in a local SQLite file.

Every text written (question, answer, comment, citations, filters) is cut to its length limit
(``limits`` of ``data/privacy_it.yaml``) and stored with personal data masked
(:func:`assistant.privacy.mask_personal_data`): the answer too, since a refusal repeats the
question. Changing the rating of an answer updates its row. Export to CSV (masked again, for
rows written by older versions), or re-mask a database written by an older version::

    python -m assistant.ui.feedback export --db feedback.sqlite3 [--out feedback.csv]
    python -m assistant.ui.feedback scrub --db feedback.sqlite3
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

from ..privacy import clip, field_limit, mask_personal_data
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


_TEXT_FIELDS = ("question", "answer", "comment")
_JSON_FIELDS = ("citations", "filters")


class FeedbackStore:
    """Adds, re-rates, annotates and lists feedback rows; one short connection per call, so
    it can be used from Gradio's worker threads.

    ``mask`` hides personal data in a text; ``limits`` gives the longest text kept per field
    (question, answer, comment, citations; default: ``data/privacy_it.yaml``).
    """

    def __init__(self, path: str | Path = DEFAULT_DB,
                 mask: Callable[[str], str] = mask_personal_data,
                 limits: Mapping[str, int] | None = None) -> None:
        if not str(path).strip():
            raise ValueError("path must name a file, got an empty string")
        if not callable(mask):
            raise ValueError(f"mask must be a function from text to text, got {mask!r:.80}")
        wanted = ("question", "answer", "comment", "citations")
        limits = dict(limits) if limits is not None else {k: field_limit(k) for k in wanted}
        bad = {k: limits.get(k) for k in wanted
               if not isinstance(limits.get(k), int) or int(limits.get(k) or 0) < 1}
        if bad:
            raise ValueError(f"limits must give a positive number of characters for "
                             f"{', '.join(wanted)}; got {bad!r}")
        self.path = Path(path)
        self.mask = mask
        self.limits = limits

    def _connect(self) -> sqlite3.Connection:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("PRAGMA secure_delete = ON")  # replaced text is overwritten
        connection.execute(_SCHEMA)
        return connection

    # ---- what is written -------------------------------------------------------------------
    def clean(self, field: str, text: str | None) -> str:
        """``text`` cut to the field's limit, then masked: what the database may hold."""
        return self.mask(clip(text, self.limits.get(field, self.limits["answer"])))

    def _clean_json(self, value: Any) -> str:
        """A JSON value with every string in it masked, cut to the citations limit."""
        def walk(item: Any) -> Any:
            if isinstance(item, str):
                return self.mask(clip(item, self.limits["answer"]))
            if isinstance(item, Mapping):
                return {str(k): walk(v) for k, v in item.items()}
            if isinstance(item, (list, tuple)):
                return [walk(v) for v in item]
            return item

        text = json.dumps(walk(value), ensure_ascii=False)
        if len(text) > self.limits["citations"]:  # too big to keep whole: keep it valid JSON
            text = json.dumps([], ensure_ascii=False) if isinstance(value, (list, tuple)) \
                else "{}"
        return text

    # ---- writing ---------------------------------------------------------------------------
    def add(self, record: FeedbackRecord) -> int:
        """Store a rating; returns its id (to change the rating or attach a comment later)."""
        _check_rating(record.rating)
        row = (datetime.now(timezone.utc).isoformat(timespec="seconds"), record.rating,
               self.clean("question", record.question), self.clean("answer", record.answer),
               self._clean_json(list(record.citations)), self.clean("comment", record.comment),
               record.embedder, record.retriever, record.answerer,
               self._clean_json(dict(record.filters or {})))
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, citations, "
                "comment, embedder, retriever, answerer, filters) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cursor.lastrowid or 0)

    def rerate(self, feedback_id: int, rating: str) -> bool:
        """Change the rating of a stored row (its comment stays); False when the id is
        unknown."""
        _check_rating(rating)
        with closing(self._connect()) as db, db:
            cursor = db.execute("UPDATE feedback SET rating = ? WHERE id = ?",
                                (rating, int(feedback_id)))
            return cursor.rowcount > 0

    def comment(self, feedback_id: int, comment: str) -> bool:
        """Attach a (cut, masked) comment to a stored rating; False when the id is unknown."""
        with closing(self._connect()) as db, db:
            cursor = db.execute("UPDATE feedback SET comment = ? WHERE id = ?",
                                (self.clean("comment", comment).strip(), int(feedback_id)))
            return cursor.rowcount > 0

    def scrub(self) -> int:
        """Mask again every row (for databases written before answers were masked); returns
        the number of rows changed."""
        changed = 0
        with closing(self._connect()) as db, db:
            rows = db.execute("SELECT id, question, answer, comment, citations, filters "
                              "FROM feedback").fetchall()
            for row_id, question, answer, comment, citations, filters in rows:
                cleaned = (self.clean("question", question), self.clean("answer", answer),
                           self.clean("comment", comment), self._rejson(citations, []),
                           self._rejson(filters, {}))
                if cleaned != (question, answer, comment, citations, filters):
                    db.execute("UPDATE feedback SET question = ?, answer = ?, comment = ?, "
                               "citations = ?, filters = ? WHERE id = ?", (*cleaned, row_id))
                    changed += 1
        with closing(self._connect()) as db:
            db.execute("VACUUM")  # no page of the file keeps the text in clear
        return changed

    def _rejson(self, text: str, empty: Any) -> str:
        try:
            return self._clean_json(json.loads(text or "null") or empty)
        except ValueError:
            return self.clean("answer", text)

    # ---- reading ---------------------------------------------------------------------------
    def rows(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return iter(())
        with closing(self._connect()) as db:
            cursor = db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id")
            return iter([dict(zip(COLUMNS, r)) for r in cursor.fetchall()])

    def export_csv(self, out: TextIO) -> int:
        """Write every row as CSV, its texts masked again; returns the number of rows."""
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
        writer.writeheader()
        count = 0
        for row in self.rows():
            for name in _TEXT_FIELDS:
                row[name] = self.clean(name, row[name])
            for name in _JSON_FIELDS:
                row[name] = self._rejson(row[name], [] if name == "citations" else {})
            writer.writerow(row)
            count += 1
        return count


def _check_rating(rating: str) -> None:
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {', '.join(RATINGS)}, got {rating!r}")


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
    scrub = sub.add_parser("scrub", help="maschera i dati personali nelle valutazioni già "
                                         "salvate (file scritti da versioni precedenti)")
    scrub.add_argument("--db", type=Path, default=DEFAULT_DB,
                       help=f"file SQLite delle valutazioni (default {DEFAULT_DB})")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        print(texts.text("feedback.export_missing", db=args.db), file=err)
        return 1
    store = FeedbackStore(args.db)
    if args.command == "scrub":
        print(texts.text("feedback.scrub_done", count=store.scrub(), db=args.db), file=err)
        return 0
    if args.out:
        with args.out.open("w", encoding="utf-8", newline="") as handle:
            count = store.export_csv(handle)
        print(texts.text("feedback.export_done", count=count, out=args.out), file=err)
    else:
        store.export_csv(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
