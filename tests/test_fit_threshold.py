"""The refusal threshold of `python -m evals fit`: the highest that keeps every set's false
refusals within the limit, from in-sample or out-of-fold probabilities."""

from types import SimpleNamespace

import pytest

from evals.fit import _threshold, fit


def _record(set_name: str, answerable: bool = True, crisp: bool = False) -> SimpleNamespace:
    return SimpleNamespace(set_name=set_name, item=SimpleNamespace(answerable=answerable),
                           crisp_missing=crisp, question_features={})


def test_highest_threshold_within_the_limit_on_every_set():
    a = [_record("a") for _ in range(20)]
    b = [_record("b") for _ in range(20)]
    probs = {id(r): 0.30 + 0.03 * i for i, r in enumerate(a)}
    probs.update({id(r): 0.50 + 0.02 * i for i, r in enumerate(b)})
    # one refusal in 20 (5%) is allowed on each set: set a's second lowest decides
    assert _threshold(a + b, None, 0.05, probs) == pytest.approx(0.33)
    # with no refusal allowed the threshold is the lowest answerable probability
    assert _threshold(a + b, None, 0.0, probs) == pytest.approx(0.30)


def test_crisp_refusals_and_unanswerable_questions_do_not_count():
    kept = [_record("a") for _ in range(10)]
    other = [_record("a", crisp=True), _record("a", answerable=False)]
    probs = {id(r): 0.5 + 0.01 * i for i, r in enumerate(kept)}
    probs.update({id(r): 0.0 for r in other})
    assert _threshold(kept + other, None, 0.0, probs) == pytest.approx(0.5)


def test_an_unknown_rule_is_named():
    with pytest.raises(ValueError, match="'sometimes'"):
        fit([], ("a",), 5, threshold_rule="sometimes")


def test_the_false_refusal_limit_is_checked_at_the_command_line(capsys):
    from evals.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["fit", "--max-false-refusal", "0.02"]).max_false_refusal == 0.02
    with pytest.raises(SystemExit):
        parser.parse_args(["fit", "--max-false-refusal", "5%"])
    assert "expected a number" in capsys.readouterr().err


def test_the_share_keeps_the_sentences_of_every_fact():
    """A question with two facts in two sentences, the second far less probable than the
    first: judged by the share of facts (as the suite's facts in answer), the share picked
    keeps both; judged by "any fact" it would keep the first alone."""
    from evals.fit import QuestionRecord, _best_share

    def candidate(p: float, rank: int) -> SimpleNamespace:
        return SimpleNamespace(probability=p, rank=rank, position=0)

    record = QuestionRecord(
        "a", SimpleNamespace(answerable=True, facts=["A", "B"]),
        [candidate(0.9, 0), candidate(0.2, 1), candidate(0.1, 2)],
        None, (), facts_held=[frozenset({0}), frozenset({1}), frozenset()])
    assert record.labels == [True, True, False]
    assert record.fact_share([0]) == 0.5
    assert record.fact_share([0, 1]) == 1.0
    assert _best_share([record], limit=5) == 0.2
