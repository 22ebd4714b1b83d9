"""Staff search (Ricerca interventi): one row per intervention, with its own funding and
target groups, filters on both, no funding cells or dates as rows."""

from __future__ import annotations

import pytest

from assistant.retrieval import Filters
from assistant.ui.interventions import InterventionReader, Vocabulary
from assistant.ui.services import InterventionSearch


@pytest.fixture
def search(fake_assistant):
    return InterventionSearch(fake_assistant, k=40, limit=500)


def _row(rows, phrase, area=""):
    return next(r for r in rows if phrase in r.intervento and area in r.area)


def test_funding_is_the_interventions_own_not_its_neighbours(search):
    rows = search.search("assistenza domiciliare")
    assert _row(rows, "Assistenza domiciliare sociale (Sad)").fonte == ""
    assert _row(rows, "Assistenza domiciliare integrata (Adi)", "disabilità").fonte == ""
    assert _row(rows, "Sad disabili").fonte == ""
    rows = search.search("tirocini")
    assert _row(rows, "tirocini socio-lavorativi").fonte == ""
    rows = search.search("povertà")
    assert _row(rows, "Centro servizi per povertà estrema").fonte == "PNRR"


def test_table_row_is_one_intervention_funded_by_its_cell(search):
    rows = search.search("servizio sociale professionale")
    row = _row(rows, "rapporto assistente sociale-abitanti di 1:5000")
    assert row.intervento.startswith("Servizio sociale professionale: LEPS")
    assert row.fonte == "Fondo povertà, FNPS, PON Inclusione, Fondo solidarietà comunale"
    assert row.destinatari == ""   # "Fondo povertà" is a fund, not a target group
    rows = search.search("dimissioni protette")
    row = _row(rows, "Garanzia per il paziente in dimissioni protette")
    assert row.destinatari.split(", ")[0] == "pazienti dimessi dall'ospedale"
    assert row.fonte == "PNRR, FNPS, FNA"


def test_funding_cells_and_dates_are_not_interventions(search):
    texts = [r.intervento for q in ("PNRR", "FNPS", "Data", "PON Inclusione", "interventi")
             for r in search.search(q)]
    assert texts
    assert not [t for t in texts if t.startswith(("Data", "PNRR, FNPS", "FNPS, FNA",
                                                  "PON Inclusione", "Lunedì"))]


def test_rows_keep_the_whole_text_and_where_it_is(search):
    row = _row(search.search("genitorialità"), "Sostegno alle capacità genitoriali")
    assert "…" not in row.intervento and row.intervento.endswith("servizi coinvolti.")
    assert row.titolo.startswith("L'A.T.S. di Galatina") and row.sezione
    assert row.url.startswith("documenti/galatina_pnrr_m5c2.txt")


def test_filters_by_funding_and_target(search):
    pnrr = search.search("interventi", funding="PNRR")
    assert pnrr and all("PNRR" in r.fonte.split(", ") for r in pnrr)
    assert not [r for r in pnrr if "Sad" in r.intervento or "tirocini" in r.intervento]
    elderly = search.search("assistenza domiciliare", target="Anziani")   # case ignored
    assert elderly and all("anziani" in r.destinatari.split(", ") for r in elderly)
    both = search.search("", funding="pnrr", target="persone con disabilità")
    assert {r.ambito for r in both} == {"Casarano", "Galatina"}
    assert search.search("interventi", funding="fondo inventato") == []
    assert search.funding_labels[0] == "PNRR" and "caregiver" in search.target_labels


def test_comune_filter_is_resolved_to_its_ambito(search):
    rows = search.search("assistenza domiciliare", Filters(comune="Matino"))
    assert rows and {r.ambito for r in rows} == {"Casarano"}


def test_reader_keeps_labels_in_the_order_the_text_names_them():
    reader = InterventionReader()
    [item] = reader.read("il sostegno ai minori e alle famiglie (Pnrr)", "Area: Anziani")
    assert item.targets == ("minori", "famiglie") and item.funding == ("PNRR",)
    [item] = reader.read("l'implementazione dell'Assistenza domiciliare (Sad)", "Anziani")
    assert item.targets == ("anziani",)   # from its heading, as it names none itself
    [item] = reader.read("formazione rivolta al personale impegnato nei servizi antiviolenza")
    assert item.targets == ("operatori dei servizi",)   # staff measures are for the staff
    [item] = reader.read("assistenza agli anziani che non hanno una rete familiare")
    assert item.targets == ("anziani",)   # what they lack is not who they are
    assert reader.read("Sono quindi previste:") == []
    assert reader.read("Possono presentare domanda i residenti con ISEE basso.") == []
    assert reader.read("• Data: 09.08.22") == []


def test_vocabulary_validates_its_patterns():
    with pytest.raises(ValueError, match="label 'x'"):
        Vocabulary({"x": ["("]})
    with pytest.raises(ValueError, match="list of expressions"):
        Vocabulary({"x": "pnrr"})
    with pytest.raises(ValueError, match="staff_targets"):
        InterventionReader(staff_targets=["astronauti"])
