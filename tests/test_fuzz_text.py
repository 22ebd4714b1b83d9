"""Property-based fuzzing of the cleaner and the chunker (hypothesis)."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from assistant.ingestion.chunking import Chunker, count_pieces
from assistant.ingestion.cleaning import _boilerplate, clean_text, split_blocks
from assistant.ingestion.readers import Page

FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FUZZ_SLOW = settings(FUZZ, max_examples=60)  # chunking long random text at chunk_size 32
CHUNKERS = {size: Chunker(size, overlap) for size, overlap in ((32, 0), (64, 10), (180, 20))}

# ---- strategies ------------------------------------------------------------------------
LETTERS = "abcdefghilmnopqrstuvzàèéìòù"
word = st.text(alphabet=LETTERS, min_size=3, max_size=12)
number = st.integers(0, 99999).map(str)
token = st.one_of(word, word, word, number)
sentence = st.lists(token, min_size=1, max_size=14).map(
    lambda ws: " ".join(ws)[:1].upper() + " ".join(ws)[1:] + ".")
paragraph = st.lists(sentence, min_size=1, max_size=4).map(" ".join)
heading = st.one_of(
    st.lists(word, min_size=1, max_size=6).map(lambda ws: " ".join(ws).upper()),
    st.lists(word, min_size=1, max_size=6).map(lambda ws: "## " + " ".join(ws)),
    st.tuples(st.integers(1, 9), st.lists(word, min_size=1, max_size=6)).map(
        lambda t: f"{t[0]}. " + " ".join(t[1]).capitalize()))
item = sentence.map(lambda s: "- " + s[0].lower() + s[1:-1] + ";")
block = st.one_of(paragraph, paragraph, heading, item)
spacing = st.sampled_from(["\n\n", "\n\n\n", "\r\n\r\n", "\n \t\n", "\n\u00a0\n"])
document = st.lists(st.tuples(block, spacing), min_size=1, max_size=8).map(
    lambda parts: "".join(b + s for b, s in parts))
pages = st.lists(document, min_size=1, max_size=3)
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
messy = st.lists(st.one_of(any_text, document, st.sampled_from(
    ["\x0c", "\u00ad", ". . . . . .", "• ", "#", "\n# \n", "\t", "€", "’", "\ufeff"])),
    max_size=5).map("".join)


def words_of(text: str) -> set[str]:
    return set(re.findall(r"\w+", unicodedata.normalize("NFC", text).lower()))


def has_boilerplate(text: str) -> bool:
    pattern = _boilerplate()
    return any(pattern.fullmatch(" ".join(line.split())) for line in text.splitlines()
               if line.strip())


# ---- never crash, stable shapes ----------------------------------------------------------
@FUZZ
@given(messy)
def test_clean_text_never_crashes_and_is_tidy(text):
    out = clean_text(text)
    assert isinstance(out, str)
    assert out == out.strip()
    assert "\n\n\n" not in out and "\r" not in out and "\t" not in out
    assert out == unicodedata.normalize("NFC", out)


@FUZZ
@given(messy)
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@FUZZ
@given(messy, st.booleans(), st.one_of(st.none(), word))
def test_split_blocks_never_crashes(text, reflow, section):
    blocks = split_blocks(clean_text(text), section=section, reflow=reflow)
    for b in blocks:
        assert b.text.strip() == b.text and b.text
        assert b.section is None or isinstance(b.section, str)


@FUZZ_SLOW
@given(st.lists(messy, min_size=1, max_size=3), st.sampled_from(sorted(CHUNKERS)),
       st.booleans())
def test_chunker_never_crashes_and_respects_the_size_limit(texts, size, reflow):
    chunker = CHUNKERS[size]
    chunks = chunker.chunk("doc.pdf", [Page(t, i + 1) for i, t in enumerate(texts)], reflow)
    for chunk in chunks:
        assert chunk.text.strip()
        assert len(count_pieces(chunk.text)) <= size, (len(count_pieces(chunk.text)), chunk.text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


@FUZZ_SLOW
@given(pages, st.sampled_from(sorted(CHUNKERS)), st.booleans())
def test_chunk_ids_are_stable_and_unique(texts, size, reflow):
    page_list = [Page(t, i + 1) for i, t in enumerate(texts)]
    first = CHUNKERS[size].chunk("a.txt", page_list, reflow)
    again = Chunker(size, CHUNKERS[size].chunk_overlap).chunk("a.txt", page_list, reflow)
    ids = [c.id for c in first]
    assert ids == [c.id for c in again]
    assert len(set(ids)) == len(ids)
    other = {c.id for c in CHUNKERS[size].chunk("b.txt", page_list, reflow)}
    assert not other & set(ids)  # ids carry the source: two documents never collide
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


# ---- nothing lost beyond whitespace and boilerplate ---------------------------------------
kinded_block = st.one_of(paragraph.map(lambda t: ("text", t)), heading.map(lambda t: ("head", t)),
                         item.map(lambda t: ("text", t)))
structured_page = st.lists(st.tuples(kinded_block, spacing), min_size=1, max_size=8)


def expected_words(page: list) -> tuple[set[str], set[str]]:
    """Words that must reach a chunk's text (paragraphs, list items) and words that must
    reach a chunk's text or section (headings with a paragraph under them)."""
    body: set[str] = set()
    titles: set[str] = set()
    blocks = [b for b, _sep in page]
    for index, (kind, text) in enumerate(blocks):
        if kind == "text":
            body |= words_of(text)
        elif index + 1 < len(blocks) and blocks[index + 1][0] == "text":
            titles |= words_of(text)
    return body, titles


@FUZZ
@given(st.lists(structured_page, min_size=1, max_size=3), st.sampled_from(sorted(CHUNKERS)),
       st.booleans())
def test_every_word_reaches_a_chunk(structured, size, reflow):
    texts = ["".join(block[1] + sep for block, sep in page) for page in structured]
    assume(not any(has_boilerplate(t) for t in texts))
    for page in structured:  # a paragraph repeated on a page is a known loss (xfail below)
        paras = [" ".join(b[1].split()) for b, _ in page if b[0] == "text"]
        assume(len(paras) == len(set(paras)))
    chunks = CHUNKERS[size].chunk("a.txt", [Page(t, i + 1) for i, t in enumerate(texts)],
                                  reflow)
    in_text: set[str] = set()
    in_sections: set[str] = set()
    for chunk in chunks:
        in_text |= words_of(chunk.text)
        in_sections |= words_of(chunk.section or "")
    body: set[str] = set()
    titles: set[str] = set()
    for page in structured:
        b, t = expected_words(page)
        body |= b
        titles |= t
    assert not body - in_text, body - in_text
    assert not titles - in_text - in_sections, titles - in_text - in_sections


@FUZZ
@given(document)
def test_clean_text_keeps_every_word_of_non_boilerplate_text(text):
    assume(not has_boilerplate(text))
    assert words_of(clean_text(text)) == words_of(text)


# ---- found by fuzzing: headings that close a page are lost (chunking.py) -------------------
@pytest.mark.parametrize("reflow", [False, True])
def test_heading_at_the_bottom_of_a_page_titles_the_next_page(reflow):
    chunks = CHUNKERS[180].chunk("a.pdf", [
        Page("## Premessa\n\nIl piano descrive i servizi sociali del territorio.\n\n"
             "## Servizi per anziani", 1),
        Page("Il servizio di assistenza domiciliare è rivolto agli anziani.", 2)], reflow)
    assert [(c.page, c.section) for c in chunks] == [(1, "Premessa"),
                                                     (2, "Servizi per anziani")]


def test_a_heading_only_page_titles_the_next_page():
    chunks = CHUNKERS[180].chunk("a.pdf", [
        Page("## Premessa", 1),
        Page("Il servizio di assistenza domiciliare è rivolto agli anziani.", 2)])
    assert [(c.page, c.section) for c in chunks] == [(2, "Premessa")]


def test_the_same_line_under_two_headings_is_kept_under_both():
    text = ("## Assistenza domiciliare\n\nDestinatari: anziani e persone con disabilità.\n\n"
            "## Centro diurno\n\nDestinatari: anziani e persone con disabilità.\n")
    chunks = CHUNKERS[180].chunk("a.txt", [Page(text)])
    assert {c.section for c in chunks} == {"Assistenza domiciliare", "Centro diurno"}


def test_a_title_followed_by_a_subtitle_is_not_lost():
    text = ("PARTE PRIMA: AREA ANZIANI\n\n## Assistenza domiciliare\n\n"
            "Il servizio è rivolto agli anziani non autosufficienti.\n")
    chunks = CHUNKERS[180].chunk("a.txt", [Page(text)])
    indexed = set()
    for chunk in chunks:
        indexed |= words_of(chunk.text) | words_of(chunk.section or "")
    assert {"parte", "prima", "area"} <= indexed


# ---- prefix phrases (asked kinds, everyday triggers) ------------------------------------
def _prefix_phrase_in(phrase: tuple[str, ...], qwords: list[str]) -> bool:
    """The plain definition: each word of the phrase begins a word of the question in turn."""
    n = len(phrase)
    return any(all(qwords[i + j].startswith(phrase[j]) for j in range(n))
               for i in range(len(qwords) - n + 1))


@FUZZ
@given(st.lists(st.text(alphabet="abcn", min_size=1, max_size=3), min_size=1, max_size=3),
       st.lists(st.text(alphabet="abcn", min_size=1, max_size=5), min_size=0, max_size=8))
def test_prefix_phrases_pattern_matches_word_prefixes(phrase, qwords):
    from assistant.text import prefix_phrases

    pattern = prefix_phrases([tuple(phrase)])
    assert bool(pattern.search(" ".join(qwords))) == _prefix_phrase_in(tuple(phrase), qwords)
