"""The analysis of one question: what retrieval and the answerers work from.

A :class:`QueryAnalyzer` turns the citizen's words, the conversation so far and the filters
set in the UI into one :class:`Query`: the self-contained question, whether and how it
leans on the previous turn, what it asks for, its places, expansions, typo corrections, and
the texts the two retrievers search. Nothing downstream re-parses a joined string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .conversation import Turn
from .detectors import interrogative
from .expansion import Expansion, QueryExpander, WordFamilies
from .retrieval import Filters
from .text import normalize, stem, terms, words
from .typos import Corrector


@dataclass(frozen=True)
class Query:
    """One analysed question.

    ``text`` is what was typed; ``searched`` the self-contained question (the previous turn
    folded in when the question leans on it); ``focus`` the words that decide what is asked
    (the follow-up itself when it asks something of its own, else ``searched``; of a question
    that says its situation first, the clauses ending with "?")."""

    text: str
    searched: str
    focus: str
    context: str | None = None  # the previous question, when this one leans on it
    scopes: tuple[Filters, ...] = (Filters(),)
    place: str | None = None
    ignore: frozenset[str] = frozenset()  # stems handled by a place filter
    expansions: tuple[Expansion, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()  # (as typed, as found in the corpus)
    lexical_terms: tuple[str, ...] = ()
    dense_text: str = ""
    language: str = "it"  # another language gets a short bilingual refusal

    @property
    def filters(self) -> Filters:
        return self.scopes[0]

    @property
    def follow_up(self) -> bool:
        return self.context is not None


# words that point back at what the previous turn was about
_POINTS_BACK = re.compile(r"\b(?:quest[oaie]|quel|quell[oaie]|quei|quegli|tale|tali|stess[oaie]|"
                          r"esso|essa|essi|esse|ne|cio|lui|lei|suo|sua|suoi|sue)\b")
# an elliptical start: "e per le famiglie?", "invece a Casarano?", "anche per gli anziani?"
_ELLIPSIS = re.compile(r"^(?:e|ed|invece|anche|pure|e invece|mentre|ma)\b")
_PREPOSITION = re.compile(r"\b(?P<prep>per|a|ad|in|di|da|con|su|tra|fra)"
                          r"(?:\s+(?:il|lo|la|i|gli|le|l|un|una|uno))?\s+(?P<rest>.+)$")
_ARTICLED = ("del", "dello", "della", "dei", "degli", "delle", "al", "allo", "alla", "ai",
             "agli", "alle", "nel", "nello", "nella", "nei", "negli", "nelle", "dal", "dallo",
             "dalla", "dai", "dagli", "dalle", "sul", "sulla", "sui", "sugli", "sulle")
_MAX_ELLIPSIS_WORDS = 6
# a phrase opened by a preposition and asking nothing itself ("per le donne vittime di
# violenza"), after an elliptical start: a fragment of the previous question, whatever its
# length
_FRAGMENT = re.compile(r"^(?:per|a|ad|in|di|da|con|su|tra|fra|al|allo|alla|ai|agli|alle|nel|"
                       r"nello|nella|nei|negli|nelle|dal|dalla|dai|dalle|sul|sulla|sui|sulle)\b"
                       r"(?!.*\b(?:che|cosa|cos|quale|quali|qual|quanto|quanta|quanti|quante|"
                       r"come|chi|dove|quando|perche)\b)")
_SHORT_WORDS = 4  # words of a question too short to stand alone with one plain word


class QueryAnalyzer:
    """Builds a :class:`Query` from a question, the conversation and the UI filters.

    ``places``: place name (normalised) -> the filter it stands for; ``vocabulary``: the
    stems the corpus holds (a question's own topic must be among them to stand alone);
    ``corrector``: typo correction against the corpus' words and places.
    """

    def __init__(self, places: Mapping[str, tuple[str, str]] | None = None,
                 region_of: Mapping[str, str] | None = None,
                 expander: QueryExpander | None = None,
                 vocabulary: Mapping[str, int] | None = None,
                 corrector: Corrector | None = None,
                 generic: frozenset[str] = frozenset()) -> None:
        self.places = dict(places or {})
        self.region_of = dict(region_of or {})
        self.expander = expander or QueryExpander()
        self.vocabulary = vocabulary or {}
        self.corrector = corrector
        self.generic = generic
        self.families = WordFamilies(self.vocabulary)

    # ---- main method -----------------------------------------------------------------------
    def analyze(self, question: str, history: Sequence[Turn] = (),
                filters: Filters | None = None) -> Query:
        from .language import guess_language

        typed = question
        language = guess_language(question).language
        if language != "it":
            return Query(typed, question, question, language=language)
        corrections: tuple[tuple[str, str], ...] = ()
        if self.corrector is not None:
            question, corrections = self.corrector.correct(question)
        previous = history[-1] if history else None
        context = previous.question if previous and self.leans_on(question) else None
        searched = self.fold(question, context) if context else question
        # what is asked: the follow-up's own words when they ask something, else the folded
        # question; in a question that says its situation first, the clauses that ask
        focus = searched if context and not self._asks_something(question) \
            else interrogative(question)
        scopes, place = self.resolve_places(searched, filters or Filters())
        expansions = tuple(self.expander.expand(searched))
        covered = {t for e in expansions for t in terms(e.term)}
        expansions += tuple(self.families.expand(searched, covered))
        extra = QueryExpander.extra_terms(list(expansions))
        dense = searched
        shown = [p for e in expansions if not e.family for p in e.added[:2]]
        if shown:
            dense += " (" + "; ".join(shown) + ")"
        # the last answer steers the search of a follow-up that continues it ("quante persone
        # ne hanno beneficiato?"), not of one that swaps the topic or the place ("e per le
        # famiglie?", "e a Casarano?")
        hint = self._answer_hint(question, previous) \
            if context and not self.switches(question, context) else ""
        if hint:
            dense += " " + hint
            extra += terms(hint)
        # the citizen's own words count twice against the words an expansion adds
        lexical = tuple(terms(searched) * 2 + extra)
        ignore = frozenset(stem(w) for w in words(place)) if place else frozenset()
        return Query(typed, searched, focus, context, tuple(scopes), place, ignore,
                     expansions, corrections, lexical, dense)

    # ---- conversation ----------------------------------------------------------------------
    def own_topic(self, question: str, generic: bool = False,
                  known_only: bool = True) -> list[str]:
        """The question's content stems (those the corpus knows, unless ``known_only`` is
        false), places and words that ask (and, unless ``generic``, generic words) aside:
        what it is about by itself."""
        from .detectors import asking_terms

        placed = {stem(w) for name in self.places for w in words(name)}
        asking = asking_terms()
        return [t for t in terms(question) if (generic or t not in self.generic)
                and t not in placed
                and t not in asking
                and (not known_only or not self.vocabulary or t in self.vocabulary)]

    def leans_on(self, question: str) -> bool:
        """Whether a question needs the previous turn: it points back at it ("quanto costa
        questo servizio?"), starts elliptically ("e per le famiglie?"), or has no topic of
        its own ("quanto costa?", "e a Casarano?"). A question with a topic of its own and
        none of these ("quanto ha avuto Galatina per i disabili?") stands alone."""
        plain = " ".join(words(question))
        if _POINTS_BACK.search(plain):
            return True
        if _ELLIPSIS.match(plain):
            rest = " ".join(words(_strip_ellipsis(question)))
            if len(plain.split()) <= _MAX_ELLIPSIS_WORDS or _FRAGMENT.match(rest):
                return True
        topic = self.own_topic(question, known_only=False)
        if not topic:
            return True
        # a short question with one plain word ("a chi si rivolge?") names no topic of its
        # own; a name, acronym or number does ("cos'è il SAD?")
        from .passages import salient_terms

        return len(plain.split()) <= _SHORT_WORDS and len(topic) < 2 \
            and not salient_terms(question)

    def fold(self, question: str, previous: str) -> str:
        """The follow-up made self-contained with the previous question: a place it names
        replaces the previous places ("e a Casarano?"); an elliptical phrase with a
        preposition replaces the previous phrase with that preposition ("quanto ha avuto
        Galatina per i disabili?" + "e per le famiglie?" -> "... per le famiglie"); anything
        else is added to the previous question."""
        own = _strip_ellipsis(question)
        follow_places = [w for w in words(own) if w in self.places]
        prev = previous.strip().rstrip(" ?")
        if follow_places:
            prev = " ".join(w for w in prev.split()
                            if normalize(w.strip("?,.!;:")) not in self.places)
        phrase = _PREPOSITION.match(" ".join(own.split()).rstrip(" ?"))
        if phrase and not follow_places:
            replaced = _replace_phrase(prev, phrase.group("prep"), own.rstrip(" ?"))
            if replaced is None and self._names_other(own):
                replaced = _replace_topic(prev, own.rstrip(" ?"))
            if replaced is not None:
                return replaced + "?"
        return f"{prev}: {own}" if own else prev

    def switches(self, question: str, previous: str) -> bool:
        """Whether a follow-up replaces part of the previous question (a place, or a phrase
        with the same preposition) rather than continuing it."""
        own = _strip_ellipsis(question)
        if any(w in self.places for w in words(own)):
            return True
        phrase = _PREPOSITION.match(" ".join(own.split()).rstrip(" ?"))
        if phrase is not None and _replace_phrase(previous.strip().rstrip(" ?"),
                                                  phrase.group("prep"), own) is not None:
            return True
        return self._names_other(own)

    def _names_other(self, own: str) -> bool:
        """Whether a follow-up (its ellipsis stripped) is a fragment naming a topic of its
        own, a number or year aside ("per le donne vittime di violenza" after the PUA's
        phone number; not "per il 2022"): it asks the same of something else."""
        return bool(_FRAGMENT.match(" ".join(words(own)))) and any(
            not t.isdigit() for t in self.own_topic(own))

    def _asks_something(self, question: str) -> bool:
        from .detectors import asked

        kinds, counted = asked(question)
        return bool(kinds or counted)

    @staticmethod
    def _answer_hint(question: str, previous: Turn | None) -> str:
        """Words of the last answer's first line, steering the search of a follow-up that
        has no topic of its own ("a chi si rivolge?"); nothing after a refusal."""
        from . import messages

        refused = messages.text("refusal", topic="").split("«")[0]
        if previous is None or not previous.answer or previous.answer.startswith(refused):
            return ""
        first = re.sub(r"\s*\[\d+\]", "", previous.answer.strip().splitlines()[0])
        return " ".join(first.split()[:25])

    # ---- places ----------------------------------------------------------------------------
    def resolve_places(self, question: str, filters: Filters) -> tuple[list[Filters], str | None]:
        """The places a question names, as filters: one filter per distinct place.

        A comune stands for its ambito ("Matino" -> Casarano); a region for its documents;
        a region that contains a named ambito adds nothing. Explicit filters win. Returns the
        filters to search with (several for a question comparing places) and the name of
        the place when there is exactly one.
        """
        base = Filters(doc_type=filters.doc_type, year=filters.year)
        if filters.ambito or filters.source or filters.region:
            return [filters], None
        if filters.comune:
            field_, value = self.places.get(normalize(filters.comune), ("ambito", filters.comune))
            return [_scope(field_, value, base)], filters.comune
        text = " " + " ".join(words(question)) + " "
        found: dict[tuple[str, str], str] = {}
        for name, target in self.places.items():
            if f" {' '.join(words(name))} " in text and (
                    target not in found or len(name) > len(found[target])):
                found[target] = name
        ambito_regions = {self.region_of.get(v) for f, v in found if f == "ambito"}
        targets = [t for t in found if not (t[0] == "region" and t[1] in ambito_regions)]
        if not targets:
            return [filters], None
        chosen = [_scope(f, v, base) for f, v in targets]
        return chosen, (found[targets[0]] if len(targets) == 1 else None)


def _scope(field_: str, value: str, base: Filters) -> Filters:
    """``base`` (type and year) restricted to one place: an ambito or a region."""
    from dataclasses import replace

    if field_ == "ambito":
        return replace(base, ambito=value)
    if field_ == "region":
        return replace(base, region=value)
    raise ValueError(f"a place stands for an ambito or a region, got {field_!r}")


def _strip_ellipsis(question: str) -> str:
    return re.sub(r"^\s*(?:e invece|e|ed|invece|ma|allora|quindi|anche|pure)\s+", "",
                  question.strip(), flags=re.IGNORECASE)


def _replace_phrase(previous: str, preposition: str, phrase: str) -> str | None:
    """``previous`` with its last phrase opened by ``preposition`` (or its articled forms:
    "per", "a" -> "ai", "alle"...) replaced by ``phrase``; None when it has none."""
    tokens = previous.split()
    forms = {preposition} | {a for a in _ARTICLED if a.startswith(preposition[:2])
                             and preposition in ("a", "ad", "di", "da", "in", "su")
                             and _articled_base(a) == preposition}
    for index in range(len(tokens) - 1, 0, -1):
        if normalize(tokens[index]).strip("',") in forms:
            return " ".join(tokens[:index] + [phrase])
    return None


def _replace_topic(previous: str, phrase: str) -> str | None:
    """``previous`` with what it is about replaced by ``phrase``: cut at its first phrase
    opened by a preposition whose next word does not say what is asked ("Qual è il numero
    di telefono | del PUA di Montebello" + "per le donne vittime di violenza"); None when
    it has none."""
    from .detectors import asking_terms

    asking = asking_terms()
    tokens = previous.split()
    prepositions = {"per", "a", "ad", "in", "di", "da", "con", "su", "tra", "fra", *_ARTICLED}
    articles = {"il", "lo", "la", "i", "gli", "le", "l", "un", "una", "uno"}
    for index in range(1, len(tokens) - 1):
        if normalize(tokens[index]).strip("',") not in prepositions:
            continue
        following = [w for t in tokens[index + 1:] for w in words(t) if w not in articles]
        if following and stem(following[0]) not in asking:
            return " ".join(tokens[:index] + [phrase])
    return None


def _articled_base(form: str) -> str:
    for base, prefix in (("di", "de"), ("a", "a"), ("da", "da"), ("in", "ne"), ("su", "su")):
        if form.startswith(prefix):
            return base
    return ""


__all__ = ["Query", "QueryAnalyzer"]
