"""What an answer owes the citizen beyond its sentences: which ambito's plan answers a
question about a comune, which words were read as typos of the documents' words, the
ambito's contacts when it refuses, and the refusal of a question in another language."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import messages
from .answering import Answer
from .errors import AssistantError
from .query import Query
from .text import normalize

if TYPE_CHECKING:
    from .ingestion.catalog import Catalog


class AnswerNotices:
    """Adds the notices to answers. The contacts come from the catalog of ``corpus_dir``,
    read once and again after :meth:`forget` (a new index state: the catalog may have
    changed with it)."""

    def __init__(self, corpus_dir: Path) -> None:
        self.corpus_dir = Path(corpus_dir)
        self._catalog: Catalog | None = None

    def forget(self) -> None:
        """Read the catalog again next time (after an ingest)."""
        self._catalog = None

    @staticmethod
    def other_language(query: Query) -> Answer:
        """The refusal of a question not in Italian, in its language."""
        from .language import refusal_text

        return Answer(query.text, refusal_text(query.language), True,
                      searched_question=query.searched)

    def finish(self, answer: Answer, query: Query) -> Answer:
        """``answer`` with its notices: the ambito that answers for the comune asked
        about, the ambito's contacts after a refusal, the words corrected as typos."""
        notes = []
        ambito = query.filters.ambito
        if query.place and not answer.refused and ambito \
                and normalize(ambito) != normalize(query.place):
            notes.append(messages.text("answer_intro_place", comune=query.place.title(),
                                       ambito=ambito))
        if answer.refused:
            contact = self.contact(ambito)
            if contact:
                answer.answer += " " + messages.text("refusal_contact", contact=contact)
        if query.corrections:
            notes.append(messages.text("typo_notice", words=", ".join(
                f"«{fixed}»" for _typed, fixed in query.corrections)))
        if notes:
            answer.notice = " ".join(notes + ([answer.notice] if answer.notice else []))
        return answer

    def contact(self, ambito: str | None) -> str:
        """The contacts the catalog gives for ``ambito``, as one line ("" without any)."""
        from .ingestion.catalog import Catalog

        if not ambito:
            return ""
        catalog = self._catalog
        if catalog is None:
            try:
                catalog = Catalog.load(self.corpus_dir)
            except AssistantError:
                catalog = Catalog()
            self._catalog = catalog
        contact = catalog.contacts_for(ambito)
        if contact is None or contact.is_empty():
            return ""
        return ", ".join(getattr(contact, k) for k in contact.FIELDS if getattr(contact, k))
