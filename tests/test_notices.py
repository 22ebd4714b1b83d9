"""The notices an answer carries, apart from the assistant: the ambito that answers for a
comune, the corrected typos, the ambito's contacts after a refusal (read once per state)."""

from __future__ import annotations

from assistant.answering import Answer
from assistant.notices import AnswerNotices
from assistant.query import Query
from assistant.retrieval import Filters

CATALOG = """documents: {}
contatti:
  Casarano:
    telefono: "0833 000000"
"""


def _query(**kw) -> Query:
    return Query("domanda", "domanda", "domanda", **kw)


def test_a_comune_answered_by_its_ambito_and_typos_are_noticed(tmp_path):
    notices = AnswerNotices(tmp_path)
    query = _query(scopes=(Filters(ambito="Casarano"),), place="matino",
                   corrections=(("anzini", "anziani"),))
    answer = notices.finish(Answer("domanda", "Testo. [1]", False), query)
    assert "Matino" in answer.notice and "Casarano" in answer.notice
    assert "«anziani»" in answer.notice
    same = notices.finish(Answer("domanda", "Testo. [1]", False),
                          _query(scopes=(Filters(ambito="Casarano"),), place="Casarano"))
    assert same.notice is None  # the place asked for is the ambito itself


def test_a_refusal_gets_the_contacts_read_again_after_forget(tmp_path):
    notices = AnswerNotices(tmp_path)
    query = _query(scopes=(Filters(ambito="Casarano"),))
    refused = notices.finish(Answer("domanda", "Non lo so.", True), query)
    assert refused.answer == "Non lo so."  # no catalog, no contacts
    (tmp_path / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    assert notices.contact("Casarano") == ""  # the catalog read before is kept
    notices.forget()
    assert "0833 000000" in notices.contact("Casarano")
    again = notices.finish(Answer("domanda", "Non lo so.", True), query)
    assert "0833 000000" in again.answer
