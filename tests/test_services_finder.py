"""'Servizi per me': the services of a comune's ambito for a citizen's situation, chosen by
the interventions' own target groups (issue 13.5), with capped inputs (issue 15.9)."""

from __future__ import annotations

import pytest

from assistant.ui.services import ServiceFinder, Situation


@pytest.fixture
def finder(fake_assistant):
    return ServiceFinder(fake_assistant)


def _items(finder, situation, comune):
    notice, [result] = finder.find([situation], comune)
    return notice, [i.text for i in result.items]


def test_galatina_families_get_the_parenting_project(finder):
    notice, items = _items(finder, "minori", "Galatina")
    assert any("capacità genitoriali" in t for t in items)
    assert notice is None   # Galatina is its own ambito


def test_elderly_get_home_care_and_caregivers_their_item(finder):
    notice, items = _items(finder, "anziani", "Matino")
    assert "Il comune di Matino fa parte dell" in notice
    assert any("Assistenza domiciliare sociale (Sad)" in t for t in items)
    _, items = _items(finder, "caregiver", "Matino")
    assert any("caregiver familiare" in t for t in items)


def test_housing_lists_no_anti_violence_nor_staff_training(finder):
    _, items = _items(finder, "casa", "Casarano")
    assert any("residenza fittizia" in t for t in items)
    assert not [t for t in items if "rifugio" in t or "antiviolenza" in t
                or "formazione specialistica" in t]
    _, items = _items(finder, "violenza", "Casarano")
    assert any("rifugio" in t for t in items)
    assert not [t for t in items if "formazione specialistica" in t]   # for the staff


def test_repeated_situations_are_asked_once(finder, monkeypatch):
    calls = []
    retrieve = type(finder.assistant.retriever).retrieve

    def counting(self, *args, **kwargs):
        calls.append(args[0])
        return retrieve(self, *args, **kwargs)

    monkeypatch.setattr(type(finder.assistant.retriever), "retrieve", counting)
    _, results = finder.find(["anziani"] * 150 + ["minori", "anziani"], "Matino")
    assert [r.id for r in results] == ["anziani", "minori"] and len(calls) == 2
    calls.clear()
    _, results = finder.find(["anziani"] * 3_200_000 + ["minori"], "Matino")
    assert [r.id for r in results] == ["anziani"] and len(calls) == 1   # the rest unread


def test_bad_inputs(finder):
    with pytest.raises(ValueError, match="unknown situation 'xxxx"):
        finder.find(["x" * 100_000], "Matino")
    _, results = finder.find(["anziani"], "Matino" * 10_000)
    assert results[0].items == []   # no such comune: nothing, and no error
    with pytest.raises(ValueError, match="unknown target groups"):
        ServiceFinder(finder.assistant, [Situation("a", "A", "q", targets=("marziani",))])
    with pytest.raises(ValueError, match="bad topic"):
        ServiceFinder(finder.assistant, [Situation("a", "A", "q", topics=("(",))])
    with pytest.raises(ValueError, match="k must be"):
        ServiceFinder(finder.assistant, k=0)
