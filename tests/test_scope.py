"""The off-topic check: a question nearer an off-topic example than any passage is refused,
by a margin fitted on the reference sets (``offtopic_margin`` of the answer model)."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.answer_model import AnswerModel
from assistant.answering import ExtractiveAnswerer
from assistant.embedding.fake import HashingEmbedder
from assistant.retrieval import Hit
from assistant.scope import ScopeCheck
from assistant.store import StoredChunk

PASSAGE = ("Il servizio di assistenza domiciliare per anziani non autosufficienti è gestito "
           "dall'ambito di Casarano con operatori socio-sanitari.")


def _hit(dense: float, text: str = PASSAGE) -> Hit:
    chunk = StoredChunk(id="sad", text=text, metadata={
        "source": "piano.txt", "title": "Piano sociale", "section": "Anziani"})
    return Hit(chunk, 1.0, dense_score=dense)


def test_similarity_is_one_for_an_example_and_lower_for_other_questions():
    scope = ScopeCheck(HashingEmbedder(), ["Come si prepara il ragù alla bolognese?"])
    assert scope.similarity("Come si prepara il ragù alla bolognese?") == pytest.approx(1.0)
    assert scope.similarity("Chi gestisce l'assistenza domiciliare?") < 0.5
    assert scope.similarity("   ") == 0.0


def test_shipped_examples_load_and_are_questions():
    scope = ScopeCheck(HashingEmbedder())
    assert len(scope.examples) >= 30
    assert all(e.endswith("?") for e in scope.examples)


@pytest.mark.parametrize("examples", [[], ["", "  "], [None]])
def test_no_example_names_the_bad_value(examples):
    with pytest.raises(ValueError, match="at least one example"):
        ScopeCheck(HashingEmbedder(), examples)


def test_model_margin_round_trips_and_none_means_no_refusal():
    model = AnswerModel.load()
    assert model.offtopic_margin is not None  # the shipped fit has one
    again = AnswerModel.from_dict(model.as_dict())
    assert again.offtopic_margin == pytest.approx(model.offtopic_margin)
    plain = dataclasses.replace(model, offtopic_margin=None)
    assert "offtopic_margin" not in plain.as_dict()
    assert not plain.off_topic(5.0)
    assert model.off_topic(model.offtopic_margin + 0.01)
    assert not model.off_topic(model.offtopic_margin)


def _answerer(margin: float | None) -> ExtractiveAnswerer:
    model = dataclasses.replace(AnswerModel.load(), offtopic_margin=margin, threshold=0.0)
    scope = ScopeCheck(HashingEmbedder(), ["Come si prepara il ragù alla bolognese?"])
    return ExtractiveAnswerer(model=model, scope=scope)


def test_a_question_like_an_off_topic_example_is_refused_beyond_the_margin():
    question = "Come si prepara il ragù alla bolognese?"
    # a passage sharing an everyday word with the question, far from it in meaning
    hits = [_hit(0.1, "Il centro diurno prepara ogni giorno il pranzo per gli anziani.")]
    assert _answerer(0.5).answer(question, hits).refused
    # without a margin (or a margin no question exceeds) the same evidence answers
    assert not _answerer(None).answer(question, hits).refused
    assert not _answerer(0.95).answer(question, hits).refused


def test_an_on_topic_question_is_not_refused_by_the_check():
    answer = _answerer(0.2).answer("Chi gestisce l'assistenza domiciliare per anziani?",
                                   [_hit(dense=0.6)])
    assert not answer.refused
    assert "Casarano" in answer.answer
