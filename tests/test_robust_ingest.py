"""Bad files in the corpus: each is reported with a clear reason, everything else is indexed,
and what was indexed before stays intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, HashingEmbedder, Settings, messages
from assistant.ingestion.chunking import Chunker
from assistant.ingestion.ocr import NoOCR
from assistant.ingestion.pipeline import Ingestor
from assistant.store import ChunkStore

import fixtures_bad as fb

GOOD_PAGES = ["Servizio di assistenza domiciliare\n"
              "L'assistenza domiciliare integrata aiuta gli anziani a restare a casa.\n"
              "Il servizio è gratuito per chi ha un ISEE sotto 10.000 €."]
BUONO_TXT = ("# Centro famiglie\n\nIl centro per le famiglie offre mediazione familiare e "
             "sostegno alla genitorialità, su appuntamento.\n")
SEGRETI = ("CODICESCRIPT", "testo iniettato", "CONTENUTOIFRAME", "CODICEALERT",
           "CONTENUTONOSCRIPT", "CONTENUTONASCOSTO", "CONTENUTOINVISIBILE", "STILECSS",
           "color: red")

# source -> the reason it is skipped (None: indexed)
EXPECTED = {
    "buono.txt": None,
    "buono.pdf": None,
    "latino1.txt": None,
    "windows1252.txt": None,
    "pagina.html": None,
    "protetto_senza_password.pdf": None,
    "protetto_rc4_senza_password.pdf": None,
    "corrotto.pdf": "corrupt_pdf",
    "troncato.pdf": "truncated_pdf",
    "download_fallito.pdf": "not_pdf",
    "protetto.pdf": "encrypted",
    "protetto_aes256.pdf": "encrypted",
    "scansione.pdf": "needs_ocr",
    "vuoto.txt": "empty",
    "spazi.md": "empty",
    "binario.txt": "binary",
    "pdf_rinominato.txt": "wrong_extension",
    "grande.txt": "too_large",
    "documento.docx": "corrupt_docx",
    "documento.doc": "unsupported",
    "senza_estensione": "unsupported",
    "link_fuori.txt": "outside_link",
    "cartella_fuori": "outside_link",
    "link_rotto.txt": "broken_link",
    "zz_copia_di_buono.txt": "duplicate",
}


def make_bad_corpus(corpus: Path, outside: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    (corpus / "buono.txt").write_text(BUONO_TXT, encoding="utf-8")
    (corpus / "buono.pdf").write_bytes(fb.text_pdf(GOOD_PAGES))
    (corpus / "latino1.txt").write_bytes(
        fb.LATIN1_TEXT.replace("2 €", "2 euro").encode("latin-1"))
    (corpus / "windows1252.txt").write_bytes(
        fb.LATIN1_TEXT.replace("trasporto sociale", "trasporto disabili").encode("cp1252"))
    (corpus / "pagina.html").write_text(fb.HOSTILE_HTML, encoding="utf-8")
    pages = ["Piano di zona riservato\nContenuto protetto dell'ambito."]
    (corpus / "protetto_senza_password.pdf").write_bytes(fb.encrypted_pdf(pages, ""))
    (corpus / "protetto_rc4_senza_password.pdf").write_bytes(
        fb.encrypted_pdf(["Registro RC4 del servizio mensa scolastica."], "", "RC4-128"))
    (corpus / "corrotto.pdf").write_bytes(fb.corrupt_pdf(GOOD_PAGES))
    (corpus / "troncato.pdf").write_bytes(fb.truncated_pdf(["Testo troncato del bando"]))
    (corpus / "download_fallito.pdf").write_bytes(fb.not_a_pdf())
    (corpus / "protetto.pdf").write_bytes(fb.encrypted_pdf(pages, "segreta"))
    (corpus / "protetto_aes256.pdf").write_bytes(fb.encrypted_pdf(pages, "segreta", "AES-256"))
    (corpus / "scansione.pdf").write_bytes(fb.scanned_pdf(["Scansione del verbale"]))
    (corpus / "vuoto.txt").write_bytes(b"")
    (corpus / "spazi.md").write_bytes(b" \n\t\n  ")
    (corpus / "binario.txt").write_bytes(fb.binary_blob())
    (corpus / "pdf_rinominato.txt").write_bytes(fb.text_pdf(["Un PDF con il nome sbagliato"]))
    (corpus / "grande.txt").write_text("Parola ripetuta molte volte. " * 2000, encoding="utf-8")
    (corpus / "documento.docx").write_bytes(b"PK\x03\x04 finto docx")
    (corpus / "documento.doc").write_bytes(b"\xd0\xcf\x11\xe0 un vecchio documento Word")
    (corpus / "senza_estensione").write_text("testo senza estensione", encoding="utf-8")
    (outside / "segreto.txt").write_text("Password del server: CONTENUTOESTERNO",
                                         encoding="utf-8")
    (corpus / "link_fuori.txt").symlink_to(outside / "segreto.txt")
    (corpus / "cartella_fuori").symlink_to(outside, target_is_directory=True)
    (corpus / "link_rotto.txt").symlink_to(corpus / "non_esiste.txt")
    (corpus / "zz_copia_di_buono.txt").write_text(BUONO_TXT, encoding="utf-8")


def settings_for(folder: Path, **changes) -> Settings:
    values = dict(corpus_dir=folder / "corpus", index_dir=folder / "index",
                  embedder="hashing", max_file_mb=0.02, ocr=False)
    values.update(changes)
    return Settings(**values)


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    make_bad_corpus(folder / "corpus", folder / "outside")
    bot = Assistant(settings_for(folder), embedder=HashingEmbedder())
    report = bot.ingest(folder / "corpus")
    return bot, report


def all_text(bot: Assistant) -> str:
    return "\n".join(c.text for c in bot.store.iter_chunks())


def test_every_bad_file_is_reported_with_its_reason(bad_run):
    _bot, report = bad_run
    got = {s.source: s.reason for s in report.skipped}
    expected = {k: v for k, v in EXPECTED.items() if v}
    assert got == expected
    assert report.files_indexed == sum(1 for v in EXPECTED.values() if v is None)


def test_each_reason_has_a_complete_italian_message(bad_run):
    _bot, report = bad_run
    for item in report.skipped:
        text = messages.skip_reason(item.reason, item.detail, **item.facts)
        assert text != item.reason and "{" not in text and "}" not in text, (item, text)
        assert len(text) > 25, text
    by_source = {s.source: s for s in report.skipped}
    assert "zz_copia_di_buono.txt" in by_source and by_source[
        "zz_copia_di_buono.txt"].detail == "buono.txt"
    big = by_source["grande.txt"]
    assert "limite 0.02 MB" in messages.skip_reason(big.reason, big.detail, **big.facts)
    assert by_source["documento.doc"].detail == ".doc"
    assert "HTML" in messages.skip_reason("not_pdf", by_source["download_fallito.pdf"].detail)
    assert report.as_dict()["skipped"][0]["reason"]  # JSON-able


def test_good_files_are_indexed_and_searchable(bad_run):
    bot, _report = bad_run
    indexed = {k for k, v in EXPECTED.items() if v is None}
    assert set(bot.store.sources()) == indexed
    assert set(bot.manifest().files) == indexed
    hits = bot.retriever.retrieve("assistenza domiciliare integrata anziani", 3, None)
    assert hits and hits[0].chunk.source == "buono.pdf"
    hits = bot.retriever.retrieve("mediazione familiare genitorialità", 3, None)
    assert hits[0].chunk.source == "buono.txt"
    hits = bot.retriever.retrieve("servizio mensa scolastica RC4", 3, None)
    assert hits[0].chunk.source == "protetto_rc4_senza_password.pdf"


def test_non_utf8_text_is_decoded_not_dropped(bad_run):
    bot, _report = bad_run
    by_source: dict[str, str] = {}
    for chunk in bot.store.iter_chunks():
        by_source[chunk.source] = by_source.get(chunk.source, "") + chunk.text
    for source in ("latino1.txt", "windows1252.txt"):
        assert "Perché è utile" in by_source[source]
        assert "disabilità" in by_source[source]
        assert "Ã" not in by_source[source] and "\ufffd" not in by_source[source]
    assert "2 € a viaggio" in by_source["windows1252.txt"]
    assert "10.000 €" in by_source["buono.pdf"]


def test_html_scripts_styles_iframes_and_hidden_text_are_not_indexed(bad_run):
    bot, _report = bad_run
    text = all_text(bot)
    for secret in SEGRETI:
        assert secret not in text
    assert "CONTENUTOESTERNO" not in text  # the symlinked file outside the corpus
    html = "\n".join(c.text for c in bot.store.iter_chunks() if c.source == "pagina.html")
    assert "parzialmente autosufficienti" in html
    assert "aperto dal lunedì al venerdì" in html  # text after a void <embed> is kept


def test_duplicates_are_indexed_once(bad_run):
    bot, _report = bad_run
    texts = [c.text for c in bot.store.iter_chunks() if "mediazione familiare" in c.text]
    assert len(texts) == 1


@pytest.mark.parametrize("bad_bytes,reason", [
    (fb.corrupt_pdf(GOOD_PAGES), "corrupt_pdf"),
    (fb.truncated_pdf(GOOD_PAGES), "truncated_pdf"),
    (fb.encrypted_pdf(GOOD_PAGES, "segreta"), "encrypted"),
    (b"", "empty"),
])
def test_indexed_file_that_turns_bad_keeps_its_old_chunks(tmp_path, bad_bytes, reason):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "piano.pdf").write_bytes(fb.text_pdf(GOOD_PAGES))
    (corpus / "altro.txt").write_text(BUONO_TXT, encoding="utf-8")
    bot = Assistant(settings_for(tmp_path), embedder=HashingEmbedder())
    first = bot.ingest(corpus)
    assert first.skipped == [] and first.files_indexed == 2
    before = sorted(c.id for c in bot.store.iter_chunks())
    entry = bot.manifest().files["piano.pdf"]

    (corpus / "piano.pdf").write_bytes(bad_bytes)
    (corpus / "nuovo.txt").write_text("Nuovo sportello per il lavoro.", encoding="utf-8")
    second = bot.ingest(corpus)
    skipped = {s.source: s for s in second.skipped}
    assert set(skipped) == {"piano.pdf"}
    assert skipped["piano.pdf"].reason == reason and skipped["piano.pdf"].kept
    assert second.files_indexed == 1 and second.files_unchanged == 1
    after = {c.id for c in bot.store.iter_chunks()}
    assert set(before) <= after  # the old chunks of piano.pdf are still there
    assert bot.manifest().files["piano.pdf"] == entry
    hits = bot.retriever.retrieve("assistenza domiciliare integrata", 2, None)
    assert hits[0].chunk.source == "piano.pdf"


def test_bad_files_added_later_leave_the_existing_index_intact(tmp_path):
    folder = tmp_path
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "buono.txt").write_text(BUONO_TXT, encoding="utf-8")
    (corpus / "buono.pdf").write_bytes(fb.text_pdf(GOOD_PAGES))
    bot = Assistant(settings_for(folder), embedder=HashingEmbedder())
    bot.ingest(corpus)
    before = {c.id: c.text for c in bot.store.iter_chunks()}
    make_bad_corpus(corpus, folder / "outside")
    report = bot.ingest(corpus)
    assert report.files_unchanged == 2
    after = {c.id: c.text for c in bot.store.iter_chunks()}
    assert before.items() <= after.items()
    assert {s.source: s.reason for s in report.skipped} == {k: v for k, v in EXPECTED.items()
                                                           if v}


def test_a_new_copy_of_an_indexed_file_keeps_the_content_once(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "zeta.txt").write_text(BUONO_TXT, encoding="utf-8")
    bot = Assistant(settings_for(tmp_path), embedder=HashingEmbedder())
    bot.ingest(corpus)
    (corpus / "alfa.txt").write_text(BUONO_TXT, encoding="utf-8")
    report = bot.ingest(corpus)
    assert [(s.source, s.reason, s.detail) for s in report.skipped] == [
        ("zeta.txt", "duplicate", "alfa.txt")]
    assert set(bot.store.sources()) == {"alfa.txt"} == set(bot.manifest().files)


def test_a_crashing_parser_skips_one_file_only(tmp_path):
    class Fragile(Chunker):
        def chunk(self, source, pages, reflow=False):
            if source == "rotto.txt":
                raise RuntimeError("bug nel chunker")
            return super().chunk(source, pages, reflow)

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rotto.txt").write_text("Testo che fa cadere il chunker.", encoding="utf-8")
    (corpus / "buono.txt").write_text(BUONO_TXT, encoding="utf-8")
    settings = settings_for(tmp_path)
    embedder = HashingEmbedder()
    store = ChunkStore(settings, embedder)
    report = Ingestor(settings, store, embedder, chunker=Fragile(), ocr=NoOCR()).run(corpus)
    assert [(s.source, s.reason) for s in report.skipped] == [("rotto.txt", "unreadable")]
    assert "RuntimeError" in report.skipped[0].detail
    assert set(store.sources()) == {"buono.txt"}


def test_size_limit_comes_from_settings(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "medio.txt").write_text("Servizio sociale professionale. " * 250,
                                      encoding="utf-8")  # about 8 KB
    small = Assistant(settings_for(tmp_path, max_file_mb=0.005), embedder=HashingEmbedder())
    assert [s.reason for s in small.ingest(corpus).skipped] == ["too_large"]
    roomy = Assistant(settings_for(tmp_path, max_file_mb=1.0), embedder=HashingEmbedder())
    assert roomy.ingest(corpus).skipped == []


def test_cli_lists_skipped_files_in_italian(tmp_path, capsys, monkeypatch):
    from assistant.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "buono.txt").write_text(BUONO_TXT, encoding="utf-8")
    (corpus / "vuoto.txt").write_bytes(b"")
    (corpus / "foglio.xlsx").write_bytes(b"PK\x03\x04")
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    code = main(["ingest", "--corpus", str(corpus), "--index", str(tmp_path / "idx"),
                 "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "vuoto.txt: il file è vuoto" in out
    assert "foglio.xlsx: formato non supportato (.xlsx)" in out
