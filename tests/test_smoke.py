from assistant import Assistant, Filters


def test_fake_assistant_answers_with_citation(fake_assistant: Assistant):
    answer = fake_assistant.ask("Quanto vale il progetto PNRR per la disabilità a Galatina?")
    assert not answer.refused
    assert "715.000" in answer.answer
    assert answer.citations[0].source == "galatina_pnrr_m5c2.txt"


def test_comune_resolves_to_ambito(fake_assistant: Assistant):
    answer = fake_assistant.ask("che servizi ci sono per gli anziani a Matino?")
    assert not answer.refused
    assert all(c.source == "casarano_piano_sociale_2022_2024.txt" for c in answer.citations)
    assert "Casarano" in (answer.notice or "")


def test_filter_by_ambito(fake_assistant: Assistant):
    answer = fake_assistant.ask("progetti PNRR", filters=Filters(ambito="Galatina"))
    assert {c.source for c in answer.citations} == {"galatina_pnrr_m5c2.txt"}
