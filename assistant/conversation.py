"""Follow-up questions: "e a Casarano?" or "quanto vale?" rewritten with the previous turn."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import normalize, words

_FOLLOW_UP_START = re.compile(
    r"^\s*(e|ed|invece|anche|pure|mentre|allora|quindi|ma|per|nello stesso|stesso|lo stesso|"
    r"la stessa|quello|quella|questo|questa|quanto|quanti|quando|chi|dove|come|perché|perche)\b",
    re.IGNORECASE)
_PRONOUNS = re.compile(r"\b(lo|la|li|le|ne|esso|essa|questo|questa|quello|quella|suo|sua|"
                       r"loro|stesso|stessa)\b", re.IGNORECASE)


# joins the previous question and the follow-up in a rewritten question
JOINER = " — "


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


def needs_context(question: str) -> bool:
    """Short or elliptical questions lean on the previous turn."""
    n = len(words(question))
    return n <= 4 or (n <= 9 and bool(_FOLLOW_UP_START.match(question)
                                      or _PRONOUNS.search(question)))


def rewrite(question: str, history: list[Turn], places: dict[str, str] | None = None) -> str:
    """The question made self-contained with the last turn's question.

    A place named in the follow-up replaces the places of the previous question
    ("Quali progetti PNRR ha Galatina?" + "e a Casarano?" -> "... Casarano").
    """
    if not history or not needs_context(question):
        return question
    previous = history[-1].question
    places = places or {}
    follow_places = [w for w in words(question) if w in places]
    if follow_places:
        kept = [w for w in previous.split() if normalize(w.strip("?,.!;:")) not in places]
        previous = " ".join(kept)
    cleaned = re.sub(r"^\s*(e|ed|invece|ma|allora|quindi)\s+", "", question.strip(),
                     flags=re.IGNORECASE)
    return f"{previous.rstrip(' ?')}{JOINER}{cleaned}"


def answer_hint(question: str, history: list[Turn], places: dict | None = None) -> str:
    """Words of the last answer's first line, to steer the *search* of a follow-up that
    points at what that answer named ("a chi si rivolge?"); empty when the follow-up moves
    to another place or stands alone."""
    if not history or not needs_context(question) or not history[-1].answer:
        return ""
    if any(w in (places or {}) for w in words(question)) or _is_refusal(history[-1].answer):
        return ""
    first = re.sub(r"\s*\[\d+\]", "", history[-1].answer.strip().splitlines()[0])
    return " ".join(first.split()[:25])


def _is_refusal(answer: str) -> bool:
    return answer.startswith("Non ho trovato")
