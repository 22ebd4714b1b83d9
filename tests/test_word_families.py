"""A question word the corpus never uses finds the corpus words of its family
(expansion.WordFamilies): searched and matched, neither shown nor embedded."""

import pytest

from assistant.expansion import WordFamilies
from assistant.query import QueryAnalyzer
from assistant.text import stem

VOCABULARY = {stem(w): df for w, df in (
    ("obbligatoria", 4), ("indicazione", 9), ("nota", 7), ("commento", 3), ("speciale", 5),
    ("assistenza", 12), ("assistenziale", 2), ("comunità", 6), ("comune", 30))}


def test_the_family_begins_with_the_question_word():
    families = WordFamilies(VOCABULARY)
    assert families.family(stem("obbliga")) == [stem("obbligatoria")]
    # the most frequent first
    assert families.family(stem("assiste")) == [stem("assistenza"), stem("assistenziale")]
    # a word the corpus holds has no family; short stems and longer words match nothing
    assert families.family(stem("commento")) == []
    assert families.family(stem("comunale")) == []
    assert families.family(stem("specialistica")) == []


def test_expansions_are_marked_and_skip_words_already_expanded():
    found = WordFamilies(VOCABULARY).expand("se metto No mi obbliga a scrivere qualcosa?")
    assert [(e.term, e.added, e.family) for e in found] == [
        ("obbliga", (stem("obbligatoria"),), True)]
    assert WordFamilies(VOCABULARY).expand("mi obbliga?", skip={stem("obbliga")}) == []


def test_the_analysis_searches_the_family_and_does_not_embed_it():
    query = QueryAnalyzer(vocabulary=VOCABULARY).analyze("Mi obbliga a scrivere una nota?")
    assert stem("obbligatoria") in query.lexical_terms
    assert stem("obbligatoria") not in query.dense_text
    assert [e.term for e in query.expansions if e.family] == ["obbliga"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="min_length"):
        WordFamilies(VOCABULARY, min_length=2)
    with pytest.raises(ValueError, match="members"):
        WordFamilies(VOCABULARY, members=0)
