"""CSV export of the staff search for Italian spreadsheets (issue 13.4, 15.9)."""

from __future__ import annotations

import csv
import io

from assistant.ui.services import InterventionRow, rows_to_csv, spreadsheet_safe

LONG = "Percorsi di autonomia per persone con disabilità; " * 20


def _read(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


def test_semicolons_bom_whole_cells_and_where_columns():
    row = InterventionRow(LONG, "Invecchiamento attivo", "anziani, caregiver", "PNRR, FNPS",
                          "Casarano", "Piano sociale, pag. 4",
                          url="documenti/piano.pdf#page=4", titolo="Piano sociale",
                          pagina=4, sezione="Aree › Invecchiamento attivo")
    header, cells = _read(rows_to_csv([row], base_url="https://servizi.example.it/"))
    assert header == ["Intervento", "Area", "Destinatari", "Fonte di finanziamento", "Ambito",
                      "Documento", "Pagina", "Sezione", "Collegamento"]
    assert cells[0] == LONG   # nothing cut
    assert "…" not in "".join(cells)
    assert cells[2:] == ["anziani, caregiver", "PNRR, FNPS", "Casarano", "Piano sociale", "4",
                         "Aree › Invecchiamento attivo",
                         "https://servizi.example.it/documenti/piano.pdf#page=4"]
    assert rows_to_csv([row]).splitlines()[1].count(";") >= 8


def test_cells_that_spreadsheets_would_run_are_escaped():
    evil = ["=HYPERLINK(\"http://x\")", "+39 333", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
    rows = [InterventionRow(e, e, "", "", "", "doc") for e in evil]
    parsed = _read(rows_to_csv(rows))[1:]
    assert [r[0] for r in parsed] == ["'" + e for e in evil]
    assert spreadsheet_safe("Servizio = sollievo") == "Servizio = sollievo"
    assert spreadsheet_safe(None) == ""


def test_quotes_and_separators_inside_cells_survive():
    row = InterventionRow('Centro "Arcobaleno"; diurno, anziani\nseconda riga', "", "", "", "",
                          "doc")
    [_, cells] = _read(rows_to_csv([row]))
    assert cells[0] == 'Centro "Arcobaleno"; diurno, anziani\nseconda riga'
