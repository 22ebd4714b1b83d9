"""The question analysis: follow-ups, topic switches, typos, locale-robust detectors."""

from __future__ import annotations

import pytest

from assistant import Assistant, Turn
from assistant.detectors import asked_kinds, holds
from assistant.typos import Corrector, TypoPolicy

MATINO = "mia madre non è più autosufficiente, che aiuti ci sono a Matino?"
GALATINA = "quanto ha avuto Galatina per i disabili?"


def test_a_self_contained_question_is_never_merged(fake_assistant: Assistant):
    query = fake_assistant.analyze(GALATINA, [Turn(MATINO, "Assistenza domiciliare [1]")])
    assert not query.follow_up
    assert query.searched == GALATINA
    assert "Matino" not in query.dense_text and "Assistenza" not in query.dense_text


def test_an_elliptical_follow_up_replaces_the_phrase_it_repeats(fake_assistant: Assistant):
    query = fake_assistant.analyze("e per le famiglie?", [Turn(GALATINA, "715.000 € [1]")])
    assert query.follow_up
    assert query.searched == "quanto ha avuto Galatina per le famiglie?"
    assert "715.000" not in query.dense_text  # the last answer does not steer a new topic


def test_a_fragment_asks_the_same_of_its_own_topic(fake_assistant: Assistant):
    """"e per le donne vittime di violenza?" (seven words, no verb) after the PUA's phone
    number asks the phone number for them: what the previous question asked is kept, what
    it was about is replaced, and its answer does not steer the search."""
    history = [Turn("Qual è il numero di telefono del PUA di Casarano?", "0833 123456 [1]")]
    query = fake_assistant.analyze("e per le donne vittime di violenza?", history)
    assert query.follow_up
    assert query.searched == "Qual è il numero di telefono per le donne vittime di violenza?"
    assert "phone" in asked_kinds(query.focus)
    assert "0833" not in query.dense_text
    orari = [Turn("Quali sono gli orari dello sportello PUA?", "lunedì 9-12 [1]")]
    assert fake_assistant.analyze("e per il centro diurno?", orari).searched == \
        "Quali sono gli orari per il centro diurno?"
    # a year is no topic of its own: the fragment continues the question
    years = [Turn("Di quanto deve aumentare nel 2021 l'utilizzo di pagoPA?", "del 20% [1]")]
    assert not fake_assistant.analyzer.switches("e per il 2022?", years[0].question)
    # a fragment that asks something stands alone
    assert not fake_assistant.analyzer.leans_on("e per le donne vittime di violenza cosa c'è?")


def test_a_follow_up_without_a_topic_leans_on_the_last_turn(fake_assistant: Assistant):
    history = [Turn("Che cos'è il PUA di Casarano?", "Il Punto Unico di Accesso ... [1]")]
    query = fake_assistant.analyze("quanto costa?", history)
    assert query.follow_up and "PUA" in query.searched
    assert query.focus == "quanto costa?"  # what is asked comes from the follow-up
    assert "Punto Unico" in query.dense_text  # the answer steers the search


def test_pointing_back_leans_on_the_last_turn(fake_assistant: Assistant):
    assert fake_assistant.analyzer.leans_on("chi gestisce questo servizio?")
    assert not fake_assistant.analyzer.leans_on(GALATINA)


def test_the_galatina_families_answer_names_the_genitorialita_project(fake_assistant):
    answer = fake_assistant.ask("e per le famiglie?", [Turn(GALATINA, "")])
    assert not answer.refused
    assert "211.500" in answer.answer


def test_typos_of_places_and_rare_words_are_corrected(fake_assistant: Assistant):
    query = fake_assistant.analyze("quanto ha avuto Galatna per i disabbili?")
    assert dict(query.corrections) == {"Galatna": "Galatina", "disabbili": "disabili"}
    assert query.place == "galatina"
    answer = fake_assistant.ask("quanto ha avuto Galatna per i disabbili?")
    assert answer.notice and "Forse cercava" in answer.notice and "«Galatina»" in answer.notice


def test_real_words_are_not_typos():
    corrector = Corrector({"ambit": 9, "merit": 5, "galatin": 3}, ["galatina"])
    assert corrector.correct("siamo 2.000 abitanti, mio marito lavora") == (
        "siamo 2.000 abitanti, mio marito lavora", ())
    assert corrector.correct("a Galatna")[1] == (("Galatna", "Galatina"),)


def test_typo_policy_validates_its_arguments():
    with pytest.raises(ValueError, match="min_length"):
        TypoPolicy(min_length=1)


@pytest.mark.parametrize("kind, text", [
    ("amount", "CHF 1’200 all'anno"), ("amount", "Fr. 300.– al mese"),
    ("amount", "EUR 5 000"), ("amount", "10 mila euro"), ("amount", "2 milioni"),
    ("amount", "211.500 €"), ("percent", "incremento del 20%"),
    ("hours", "accoglie anziani dalle 8 alle 17"), ("hours", "aperto 8-12"),
    ("hours", "dalle ore 9"), ("hours", "apre alle 9.00"),
    ("deadline", "entro dicembre 2021"), ("deadline", "entro il 2022"),
    ("deadline", "23 settembre 2020"), ("deadline", "31/03/2025"),
    ("phone", "0833 123456"), ("phone", "+41 91 123 45 67"), ("phone", "079 123 45 67"),
])
def test_detectors_read_every_usual_form(kind, text):
    assert holds(kind, text)


@pytest.mark.parametrize("kind, text", [
    ("hours", "nel triennio 2021-2023"), ("hours", "ragazzi di 12 anni"),
    ("phone", "protocollo n. 12345"),
])
def test_detectors_do_not_read_what_is_not_there(kind, text):
    assert not holds(kind, text)


def test_when_asks_a_date_only_as_the_question_word():
    assert "date" in asked_kinds("Quando apre lo sportello?")
    assert "date" not in asked_kinds("Cosa si legge nella colonna esito quando il check è nero?")


def test_an_hour_written_as_a_range_answers(fake_assistant: Assistant, tmp_path):
    corpus = fake_assistant.settings.corpus_dir
    (corpus / "girasole.txt").write_text(
        "Centro diurno Il Girasole\n\nIl centro diurno Il Girasole di Casarano accoglie "
        "anziani dalle 8 alle 17, dal lunedì al venerdì.\n", encoding="utf-8")
    fake_assistant.ingest(corpus)
    answer = fake_assistant.ask("A che ora apre il centro diurno Il Girasole?")
    assert not answer.refused and "dalle 8 alle 17" in answer.answer


@pytest.mark.parametrize("question", [
    "Qual è la capitale dell'Australia?", "Come si prepara il tiramisù?",
    "Chi ha vinto il campionato di Serie A di calcio nel 2019?",
])
def test_out_of_domain_questions_are_refused(fake_assistant: Assistant, question):
    assert fake_assistant.ask(question).refused


def test_a_bare_number_is_no_amount():
    assert not holds("amount", "censiti 1.101 data center di gruppo B")
    assert not holds("amount", "incremento del 20% rispetto alla baseline")


def test_a_refusal_names_the_ambito_contact_and_asks_no_comune_already_given(
        fake_assistant: Assistant):
    from assistant.retrieval import Filters

    corpus = fake_assistant.settings.corpus_dir
    catalog = (corpus / "catalog.yaml").read_text(encoding="utf-8")
    catalog += ("\ncontatti:\n  Casarano:\n    nome: PUA dell'Ambito di Casarano\n"
                "    telefono: 0833 000000\n    orari: lunedì-venerdì 9-12\n")
    (corpus / "catalog.yaml").write_text(catalog, encoding="utf-8")
    fake_assistant.ingest(corpus)
    answer = fake_assistant.ask("Come si rinnova il passaporto?", filters=Filters(comune="Matino"))
    assert answer.refused
    assert "indicare il comune" not in answer.answer
    assert "PUA dell'Ambito di Casarano, 0833 000000, lunedì-venerdì 9-12" in answer.answer
    unplaced = fake_assistant.ask("Come si rinnova il passaporto?")
    assert "indicare il comune" in unplaced.answer and "0833" not in unplaced.answer


@pytest.mark.parametrize("question, language, words", [
    ("What services are there for elderly people in Matino?", "en", "in Italian"),
    ("Welche Hilfen gibt es für ältere Menschen?", "de", "auf Italienisch"),
    ("ما هي الخدمات المتاحة لكبار السن؟", "ar", "الإيطالية"),
])
def test_a_question_in_another_language_gets_a_short_bilingual_refusal(
        fake_assistant: Assistant, question, language, words):
    answer = fake_assistant.ask(question)
    assert answer.refused and not answer.citations
    assert "in italiano" in answer.answer and words in answer.answer
    events = list(fake_assistant.ask_stream(question))
    assert events[-1][0] == "final" and events[-1][1].refused


@pytest.mark.parametrize("question", [
    "Cos'è il SAD?", "ADI e SAD a Casarano", "dove si trova il PUA?",
    "mia madre non è più autosufficiente, che aiuti ci sono a Matino?",
])
def test_italian_questions_are_italian(question):
    from assistant.language import guess_language

    assert guess_language(question).language == "it"


def test_a_config_file_with_only_web_settings_loads(tmp_path):
    from assistant import Settings

    path = tmp_path / "assistant.toml"
    path.write_text('[web]\naccessibility_url = "https://comune.example/accessibilita"\n',
                    encoding="utf-8")
    assert Settings.load(path, env={}).top_k == Settings().top_k
    path.write_text('top_k = 7\n[web]\nx = 1\n', encoding="utf-8")
    assert Settings.load(path, env={}).top_k == 7
