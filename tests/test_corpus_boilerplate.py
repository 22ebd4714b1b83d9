"""Corpus boilerplate: lines that the web, text and Markdown files of one corpus share at
their top and bottom (menus, breadcrumbs, "Potrebbe interessarti" lists, cookie banners,
footers of a crawled site) are not indexed; each page's own text is, and answers."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings
from assistant.ingestion import boilerplate
from assistant.ingestion.boilerplate import CENSUS_NAME, LineCensus
from assistant.ingestion.readers import Page, read_pages

SITE = Path(__file__).resolve().parent / "data" / "crawled_site"

# lines every page of the site carries around its own content
SHARED = ["I servizi sociali dei comuni",
          "Amministrazione trasparente", "Chi siamo", "Home > Servizi", "Home >",
          "Potrebbe interessarti", "cookie", "Rifiuta", "Personalizza le preferenze",
          "Note legali", "Dichiarazione di accessibilità", "Mappa del sito"]
# footer lines that carry data: kept once in the corpus, by the first file holding them
DATA = ["Codice fiscale 90012345678", "PEC ambito.valleserena@pec.example", "© 2025"]
# each page's own text
OWN = {
    "index.html": "dotazione complessiva di 3.420.000 euro",
    "servizi/centro-diurno-girasole.html": "dalle 8 alle 17",
    "servizi/assistenza-domiciliare.html": "fino a 6 ore settimanali",
    "servizi/trasporto-disabili.html": "numero verde 800 123 456",
    "servizi/sportello-famiglie.html": "via Garibaldi 10",
    "servizi/contributo-affitto.html": "entro il 30 giugno 2025",
    "notizie/bando-centri-estivi.html": "40 euro a settimana",
    "contatti.html": "Telefono 0831 555 100",
}


@pytest.fixture(scope="module")
def site_bot(tmp_path_factory):
    root = tmp_path_factory.mktemp("sito")
    corpus = root / "corpus"
    shutil.copytree(SITE, corpus)
    bot = Assistant(Settings(corpus_dir=corpus, index_dir=root / "index", embedder="hashing"),
                    embedder=HashingEmbedder())
    report = bot.ingest()
    assert report.files_indexed == len(OWN) and not report.skipped
    return bot


def _texts(bot: Assistant) -> dict[str, str]:
    chunks, _ = bot.store.dump()
    texts: dict[str, str] = {}
    for chunk in chunks:
        source = chunk.metadata["source"]
        texts[source] = texts.get(source, "") + "\n" + chunk.text
    return texts


def test_no_chunk_holds_menu_breadcrumb_cookie_or_footer_lines(site_bot):
    chunks, _ = site_bot.store.dump()
    assert chunks
    for chunk in chunks:
        for line in SHARED:
            assert line.lower() not in chunk.text.lower(), (line, chunk.text)
        # the site's name as a line of its own (its sentences keep it)
        assert "Ambito Territoriale Sociale Valle Serena" not in chunk.text.split("\n")
        assert chunk.metadata.get("section") != "Potrebbe interessarti"


def test_footer_data_is_kept_once_in_the_corpus(site_bot):
    texts = _texts(site_bot)
    for line in DATA:
        holders = [source for source, text in texts.items() if line in text]
        assert holders == ["contatti.html"], line  # the first file the ingest meets
    answer = site_bot.ask("Qual è la PEC dell'Ambito Valle Serena?")
    assert "ambito.valleserena@pec.example" in answer.answer


def test_each_page_keeps_its_own_text(site_bot):
    texts = _texts(site_bot)
    assert set(texts) == set(OWN)
    for source, fact in OWN.items():
        assert fact in texts[source], source
    # a shared name stays where it is the page's own prose ("Valle Serena" in its sentences)
    assert "L'Ambito Territoriale Sociale Valle Serena gestisce" in texts["index.html"]


@pytest.mark.parametrize("question,fact,source", [
    ("A che ora apre il centro diurno Il Girasole?", "dalle 8 alle 17",
     "servizi/centro-diurno-girasole.html"),
    ("Qual è il numero verde del trasporto per persone con disabilità?", "800 123 456",
     "servizi/trasporto-disabili.html"),
    ("Quanto costa il centro estivo a settimana?", "40 euro", "notizie/bando-centri-estivi.html"),
])
def test_pages_answer_questions_about_their_content(site_bot, question, fact, source):
    answer = site_bot.ask(question)
    assert not answer.refused
    assert fact in answer.answer
    assert answer.citations[0].source == source
    assert "Amministrazione trasparente" not in answer.answer and "cookie" not in answer.answer


def _census(files: dict[str, str], **rule) -> LineCensus:
    """A census of in-memory files (name -> text), as the ingest builds it from disk."""
    entries = {}
    for name, text in files.items():
        digest = hashlib.sha256(text.encode()).hexdigest()
        entries[name] = boilerplate.FileLines.read(Path(name), text.encode(), digest)
    return LineCensus(entries, **rule)


def _page(title: str, body: str, extra: str = "") -> str:
    return (f"Comune di Prova - Servizi sociali\n\n- Home\n\n- Servizi\n\n- Contatti\n\n"
            f"# {title}\n\n{body}\n\n{extra}Ufficio servizi sociali, piazza Roma 1\n")


def test_lines_below_the_floor_or_inside_the_body_stay():
    files = {f"p{n}.md": _page(f"Pagina {n}", f"Testo proprio della pagina numero {n}.")
             for n in range(1, 7)}
    # repeated on two files only: under max(3, 0.3 x 6)
    files["p1.md"] = _page("Pagina 1", "Testo uno.", "Orari estivi del servizio\n\n")
    files["p2.md"] = _page("Pagina 2", "Testo due.", "Orari estivi del servizio\n\n")
    # repeated on every file but between lines of the page's own
    for name in ("p3.md", "p4.md"):
        files[name] = files[name].replace("# ", "# ", 1).replace(
            "\n\nUfficio", "\n\nComune di Prova - Servizi sociali\n\nAltro testo suo.\n\nUfficio")
    census = _census(files)
    for name, text in files.items():
        kept = census.strip(name, [Page(text)])[0].text
        assert "- Home" not in kept
        # the footer carries data (a number): kept by the first file only
        assert ("Ufficio servizi sociali, piazza Roma 1" in kept) == (name == "p1.md")
        assert kept.lstrip().startswith(f"# Pagina {name[1]}")
    kept = {n: census.strip(n, [Page(t)])[0].text for n, t in files.items()}
    assert "Orari estivi del servizio" in kept["p1.md"]
    assert "Comune di Prova - Servizi sociali\n\nAltro testo suo." in kept["p3.md"]


def test_items_naming_another_page_go_and_a_page_keeps_its_own_title():
    files = {name: _page(title, f"Il servizio {title.lower()} è descritto qui.",
                         "## Vedi anche\n\n" + "".join(f"- {t}\n" for t in others) + "\n")
             for name, title, others in [
                 ("a.md", "Assistenza domiciliare", ["Centro diurno"]),
                 ("b.md", "Centro diurno", ["Assistenza domiciliare"]),
                 ("c.md", "Trasporto sociale", ["Centro diurno", "Assistenza domiciliare"]),
                 ("d.md", "Contatti", ["Trasporto sociale"])]}
    census = _census(files)
    kept = {n: census.strip(n, [Page(t)])[0].text for n, t in files.items()}
    assert "- Centro diurno" not in kept["a.md"] and "- Trasporto sociale" not in kept["d.md"]
    assert kept["d.md"].lstrip().startswith("# Contatti")  # its own title, though the menu names it
    assert "Il servizio contatti è descritto qui." in kept["d.md"]


def test_a_file_with_nothing_of_its_own_is_kept_whole():
    files = {f"{n}.md": "- Home\n\n- Servizi\n\nPiè di pagina comune\n" for n in "abc"}
    files["d.md"] = "- Home\n\n- Servizi\n\nPiè di pagina comune\n\n- Altro\n"
    census = _census(files)
    pages = [Page(files["a.md"])]
    assert census.strip("a.md", pages) is pages


def test_pdfs_are_neither_counted_nor_stripped(tmp_path):
    for n in range(4):
        (tmp_path / f"{n}.txt").write_text(_page(f"Titolo {n}", f"Testo {n}."), "utf-8")
    (tmp_path / "piano.pdf").write_bytes(b"%PDF-1.4 not read by the census")
    paths = sorted(tmp_path.iterdir())
    census = LineCensus.build(tmp_path, paths)
    assert set(census.files) == {f"{n}.txt" for n in range(4)}
    pages = [Page("- Home\nUfficio servizi sociali, piazza Roma 1", 1)]
    assert census.strip("piano.pdf", pages) is pages and census.fingerprint("piano.pdf") == ""


def test_census_is_kept_in_the_index_and_only_changed_files_are_read(tmp_path, monkeypatch):
    corpus = tmp_path / "c"
    corpus.mkdir()
    for n in range(5):
        (corpus / f"{n}.md").write_text(_page(f"Titolo {n}", f"Testo {n}."), "utf-8")
    cache = tmp_path / "index" / CENSUS_NAME
    first = LineCensus.build(corpus, sorted(corpus.iterdir()), cache)
    assert cache.is_file()
    reads = []
    original = boilerplate.FileLines.read
    monkeypatch.setattr(boilerplate.FileLines, "read",
                        classmethod(lambda cls, *a: reads.append(a[0].name) or original(*a)))
    (corpus / "4.md").write_text(_page("Titolo 4", "Testo cambiato."), "utf-8")
    again = LineCensus.build(corpus, sorted(corpus.iterdir()), cache)
    assert reads == ["4.md"]
    assert again.frequent == first.frequent
    for broken in ("{not json", '{"version": 3, "files": {"0.md": {"digest": "x", '
                   '"lines": [[1]]}}}', '{"version": 3, "files": []}'):
        cache.write_text(broken, "utf-8")  # a broken cache is counted again, not fatal
        assert LineCensus.build(corpus, sorted(corpus.iterdir()), cache).frequent \
            == first.frequent


def test_only_files_whose_boilerplate_changed_are_indexed_again(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    notice = "Avviso: sportello chiuso ad agosto\n\n"
    for n in range(6):
        extra = notice if n < 2 else ""  # on two files of six: not boilerplate yet
        (corpus / f"{n}.md").write_text(_page(f"Servizio {n}", f"Descrizione {n}.", extra),
                                        "utf-8")
    bot = Assistant(Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                             embedder="hashing"), embedder=HashingEmbedder())
    first = bot.ingest()
    assert first.files_indexed == 6
    assert "sportello chiuso" in _texts(bot)["0.md"]
    # a third file with the notice: now on three files, it is boilerplate of all three
    path = corpus / "2.md"
    path.write_text(_page("Servizio 2", "Descrizione 2.", notice), "utf-8")
    again = bot.ingest()
    assert again.files_indexed == 3 and again.files_unchanged == 3
    texts = _texts(bot)
    assert not any("sportello chiuso" in t for t in texts.values())
    assert all(f"Descrizione {n}." in texts[f"{n}.md"] for n in range(6))
    assert bot.ingest().files_indexed == 0  # nothing moved: nothing indexed
    # the third file goes: back on two files, the notice is content again where it is
    path.unlink()
    last = bot.ingest()
    assert last.files_removed == 1 and last.files_indexed == 2 and last.files_unchanged == 3
    texts = _texts(bot)
    assert all("sportello chiuso" in texts[f"{n}.md"] for n in (0, 1))


def test_breadcrumb_trails_go_whatever_their_last_step():
    files = {f"{n}.html": f"<p>Home / Servizi / Pagina {n}</p><h1>Titolo {n}</h1>"
             f"<p>Contenuto della pagina {n}, con le sue informazioni.</p>" for n in range(4)}
    census = _census(files)
    for name, raw in files.items():
        kept = census.strip(name, read_pages(Path(name), raw.encode()))
        assert "Home /" not in kept[0].text and "Contenuto della pagina" in kept[0].text


def test_a_long_text_is_neither_counted_nor_stripped(tmp_path):
    for n in range(4):
        (tmp_path / f"{n}.txt").write_text(_page(f"Titolo {n}", f"Testo {n}."), "utf-8")
    big = _page("Titolo lungo", "Una riga di un testo molto lungo.\n" * 80_000)
    (tmp_path / "lungo.txt").write_text(big, "utf-8")
    census = LineCensus.build(tmp_path, sorted(tmp_path.iterdir()))
    assert "lungo.txt" not in census.files and "0.txt" in census.files
    pages = [Page(big)]
    assert census.strip("lungo.txt", pages) is pages


def _card_site() -> dict[str, str]:
    """Service pages whose "Potrebbe interessarti" cards quote the first sentence of the
    page they point to, and a section page listing them all."""
    services = {f"s{n}.md": (f"Servizio {name}", f"Il servizio {name} aiuta {n + 2} famiglie.")
                for n, name in enumerate(["alfa", "beta", "gamma", "delta", "epsilon"])}
    files = {}
    names = sorted(services)
    for index, name in enumerate(names):
        title, first = services[name]
        cards = "".join(f"### {services[o][0]}\n\n{services[o][1]}\n\nLeggi di più\n\n"
                        for o in (names[index - 1], names[index - 2]))
        files[name] = (f"- Home\n\n- Servizi\n\n- {title}\n\n# {title}\n\n{first}\n\n"
                       f"Altro testo proprio di {title}.\n\n## Potrebbe interessarti\n\n{cards}"
                       "Sito dei servizi sociali\n")
    listing = "".join(f"### {t}\n\n{f}\n\n" for t, f in services.values())
    files["servizi.md"] = (f"- Home\n\n- Servizi\n\n# Servizi\n\n{listing}"
                           "Sito dei servizi sociali\n")
    return files


def test_cards_quoting_another_page_go_with_their_excerpt():
    files = _card_site()
    census = _census(files)
    kept = {n: census.strip(n, [Page(t)])[0].text for n, t in files.items()}
    for name, text in kept.items():
        if name == "servizi.md":
            continue
        title = files[name].split("# ", 1)[1].split("\n")[0]
        own = [line for line in text.split("\n") if line.strip()]
        assert own == [f"# {title}", files[name].split("\n\n")[4],
                       f"Altro testo proprio di {title}."], (name, text)
    # the section page is all links: it keeps its listing and loses the frequent lines
    assert "Il servizio gamma aiuta 4 famiglie." in kept["servizi.md"]
    assert "- Home" not in kept["servizi.md"] and "Sito dei servizi" not in kept["servizi.md"]
