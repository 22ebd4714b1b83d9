"""Acronyms a corpus defines in a list of acronyms (an appendix or glossary), besides the
ones it defines in parentheses."""

from assistant.expansion import QueryExpander, acronyms_defined_in

# as pypdf gives a two-column list of acronyms: one line of running words
LIST = ("Acronimo Definizione DPO Data Protection Officer - Responsabile Protezione Dati "
        "FESR Fondo europeo di sviluppo regionale FICEP First Italian Crossborder eIDAS Proxy "
        "- Progetto nazionale RTD Responsabile per la Transizione al Digitale SaaS Software "
        "as a Service OPI Ordinativi di Incasso e Pagamento")


def test_a_list_of_acronyms_gives_each_meaning():
    found = acronyms_defined_in(LIST)
    assert found["RTD"] == "Responsabile per la Transizione al Digitale"
    assert found["FESR"] == "Fondo europeo di sviluppo regionale"
    assert found["FICEP"] == "First Italian Crossborder eIDAS Proxy"
    assert found["DPO"] == "Data Protection Officer"
    # initials in another order, where the next entry follows ("OPI Ordinativi di Incasso
    # e Pagamento" at the end of the list)
    assert found["OPI"] == "Ordinativi di Incasso e Pagamento"


def test_initials_in_another_order_need_the_entry_to_end():
    assert acronyms_defined_in("AI Intelligenza Artificiale ANCI Associazione nazionale "
                               "comuni italiani") == {
        "AI": "Intelligenza Artificiale", "ANCI": "Associazione nazionale comuni italiani"}
    # running words that happen to hold the letters are no entry
    assert acronyms_defined_in("la ASL Sanitaria Azienda Locale di Lecce") == {}


def test_running_text_after_an_acronym_is_not_a_meaning():
    text = ("Il CUP che unisce prenotazioni. Rivolgersi alla ASL Lecce. "
            "L'ambito ha attivato il SAD dal 2021. Il PUA Presso la sede del comune.")
    assert acronyms_defined_in(text) == {}


def test_parenthesised_definitions_still_found():
    found = acronyms_defined_in("il Punto Unico di Accesso (PUA) e il CIG (Codice "
                                "Identificativo Gara)")
    assert found == {"PUA": "Punto Unico di Accesso", "CIG": "Codice Identificativo Gara"}


def test_a_listed_meaning_expands_the_question():
    expander = QueryExpander(corpus_acronyms=acronyms_defined_in(LIST), use_glossary=False)
    (exp,) = expander.expand("Che cosa vuol dire FICEP?")
    assert exp.meaning == "First Italian Crossborder eIDAS Proxy"


def test_a_list_of_acronyms_splits_into_one_sentence_an_entry():
    from assistant.passages import sentences

    found = sentences("Acronimo Definizione SATD Soggetto aggregatore territoriale per il "
                      "digitale SBN Servizio Bibliotecario Nazionale. Il RTD Responsabile "
                      "del comune ha firmato.")
    assert found == ["Acronimo Definizione",
                     "SATD Soggetto aggregatore territoriale per il digitale",
                     "SBN Servizio Bibliotecario Nazionale.",
                     "Il RTD Responsabile del comune ha firmato."]
