"""The LlamaIndex face of the retrieval: ``HybridRetriever`` under a stock
``RetrieverQueryEngine`` (MockLLM), over the demo corpus indexed on disk (Chroma, hashing
embedder), plus a two-page PDF whose page numbers must reach ``response.source_nodes``."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.vector_stores.types import (ExactMatchFilter, FilterCondition,
                                                  FilterOperator, MetadataFilter,
                                                  MetadataFilters)

from assistant import Assistant, Filters, HashingEmbedder, HybridRetriever, Settings
from assistant.answering import ExtractiveAnswerer
from assistant.llamaindex import filters_from_metadata
from assistant.llm import LLMAnswerer, ScriptedBackend
from fixtures_bad import text_pdf

README = Path(__file__).resolve().parent.parent / "README.md"

PDF_NAME = "telesoccorso_servizi.pdf"
PDF_PAGES = ["Carta dei servizi domiciliari.\nIl documento descrive i servizi offerti.",
             "Il telesoccorso Zefirino costa 12 euro al mese.\n"
             "Il telesoccorso Zefirino risponde giorno e notte alle persone anziane sole."]
ZEFIRINO = "Quanto costa il telesoccorso Zefirino?"
ELDERLY = "Che servizi ci sono per gli anziani?"
GALATINA = "Quanto vale il progetto per persone con disabilità a Galatina?"


@pytest.fixture
def paged_assistant(fake_settings, demo_corpus) -> Assistant:
    """The demo corpus plus a two-page PDF (no catalog entry: no ambito), indexed."""
    (demo_corpus / PDF_NAME).write_bytes(text_pdf(PDF_PAGES))
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    bot.ingest(demo_corpus)
    return bot


def readme_example() -> str:
    """The Python block of README's "Use it from your own LlamaIndex code"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Use it from your own LlamaIndex code"):]
    return section[section.index("```python\n") + 10:section.index("\n```\n")]


# ---- the query engine ----------------------------------------------------------------------
def test_query_engine_gets_our_citations_with_source_and_page(paged_assistant):
    engine = RetrieverQueryEngine.from_args(HybridRetriever(paged_assistant), llm=MockLLM())
    response = engine.query(ZEFIRINO)
    nodes = response.source_nodes
    assert nodes and all(isinstance(n.node, TextNode) for n in nodes)
    top = nodes[0].node.metadata
    assert (top["source"], top["page"]) == (PDF_NAME, 2)
    assert "Zefirino costa 12 euro" in nodes[0].node.get_content()
    # the same passages, in the same order and with the same scores, as the assistant's own
    hits = paged_assistant.retrieve(paged_assistant.analyze(ZEFIRINO))
    assert [(n.node.node_id, n.score) for n in nodes] == [(h.chunk.id, h.score) for h in hits]
    for node, hit in zip(nodes, hits):
        meta = node.node.metadata
        assert meta["chunk_id"] == hit.chunk.id
        for key in ("source", "title", "page", "section", "ambito", "doc_type", "year"):
            assert meta.get(key) == hit.chunk.metadata.get(key), key
    # the answer the assistant gives cites that very page
    answer = paged_assistant.ask(ZEFIRINO)
    assert (answer.citations[0].source, answer.citations[0].page) == (PDF_NAME, 2)
    # MockLLM echoes its prompt: the passage and its visible metadata reached the LLM,
    # the internal keys did not
    prompt = str(response)
    assert "Zefirino costa 12 euro" in prompt and f"source: {PDF_NAME}" in prompt
    assert "chunk_id" not in prompt and "bm25_rank" not in prompt


def test_a_comune_filter_gives_only_its_ambitos_documents(fake_assistant):
    unfiltered = HybridRetriever(fake_assistant).retrieve(ELDERLY)
    assert {n.node.metadata.get("ambito") for n in unfiltered} - {"Casarano"}, \
        "without a filter other ambiti answer too (else the filter test proves nothing)"
    matino = MetadataFilters(filters=[MetadataFilter(key="comune", value="Matino")])
    engine = RetrieverQueryEngine.from_args(HybridRetriever(fake_assistant, filters=matino),
                                            llm=MockLLM())
    nodes = engine.query(ELDERLY).source_nodes
    assert nodes
    assert {n.node.metadata["ambito"] for n in nodes} == {"Casarano"}
    assert {n.node.metadata["source"] for n in nodes} == {"casarano_piano_sociale_2022_2024.txt"}


def test_the_readme_example_runs(fake_assistant, monkeypatch, capsys):
    # the example reads the index named by ASSISTANT_*: the one the fixture built
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(fake_assistant.settings.index_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hashing")
    scope: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), scope)  # noqa: S102 - our README
    cited = [n.node.metadata["source"] for n in scope["response"].source_nodes]
    assert cited and set(cited) == {"casarano_piano_sociale_2022_2024.txt"}
    assert "Context information" in str(scope["response"])  # MockLLM echoes the QA prompt
    answer = scope["answer"]
    assert not answer.refused and answer.citations
    assert {c.source for c in answer.citations} == {"casarano_piano_sociale_2022_2024.txt"}
    printed = capsys.readouterr().out
    assert "casarano_piano_sociale_2022_2024.txt 0 " in printed


@pytest.mark.parametrize("filters, expected", [
    (None, Filters()),
    ([ExactMatchFilter(key="ambito", value="Galatina")], Filters(ambito="Galatina")),
    ([MetadataFilter(key="type", value="avviso"), MetadataFilter(key="year", value=2023)],
     Filters(doc_type="avviso", year=2023)),
    ([MetadataFilter(key="doc_type", value="piano di zona"),
      MetadataFilter(key="year", value="2024")], Filters(doc_type="piano di zona", year=2024)),
    ([MetadataFilter(key="source", value="galatina_pnrr_m5c2.txt"),
      MetadataFilter(key="source", value="galatina_pnrr_m5c2.txt")],
     Filters(source="galatina_pnrr_m5c2.txt")),
    ([MetadataFilter(key="comune", value=" Matino ")], Filters(comune="Matino")),
])
def test_metadata_filters_map_onto_our_filters(filters, expected):
    given = None if filters is None else MetadataFilters(filters=filters)
    assert filters_from_metadata(given) == expected


def test_filters_restrict_what_the_engine_cites(fake_assistant):
    by_year = MetadataFilters(filters=[MetadataFilter(key="year", value=2023),
                                       MetadataFilter(key="type", value="avviso")])
    nodes = HybridRetriever(fake_assistant, filters=by_year).retrieve(ELDERLY)
    assert nodes
    assert {n.node.metadata["source"] for n in nodes} == {"val_enza_avviso_1_2019_pais.txt"}


@pytest.mark.parametrize("filters, named", [
    ([MetadataFilter(key="provincia", value="LE")], "'provincia'"),
    ([MetadataFilter(key="year", value=2022, operator=FilterOperator.GTE)], "'>='"),
    ([MetadataFilter(key="ambito", value=["Casarano", "Galatina"],
                     operator=FilterOperator.IN)], "'in'"),
    ([MetadataFilter(key="year", value="duemila")], "'duemila'"),
    ([MetadataFilter(key="ambito", value="")], "''"),
    ([MetadataFilter(key="ambito", value="Casarano"),
      MetadataFilter(key="ambito", value="Galatina")], "'Galatina'"),
    ([MetadataFilters(filters=[MetadataFilter(key="ambito", value="Casarano")])], "nested"),
])
def test_unsupported_filters_raise_naming_them(fake_settings, filters, named):
    bot = Assistant(fake_settings, embedder=HashingEmbedder())  # nothing is searched
    with pytest.raises(ValueError) as info:
        HybridRetriever(bot, filters=MetadataFilters(filters=filters))
    assert named in str(info.value)


def test_an_or_condition_and_bad_arguments_raise(fake_settings):
    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    either = MetadataFilters(filters=[MetadataFilter(key="ambito", value="Casarano"),
                                      MetadataFilter(key="ambito", value="Galatina")],
                             condition=FilterCondition.OR)
    with pytest.raises(ValueError, match="'or'"):
        HybridRetriever(bot, filters=either)
    with pytest.raises(ValueError, match="analyze"):
        HybridRetriever("index/")
    with pytest.raises(ValueError, match="MetadataFilters"):
        HybridRetriever(bot, filters={"ambito": "Casarano"})


# ---- the answerers on the same retriever ---------------------------------------------------
def test_nodes_map_back_to_our_hits_for_the_answerers(fake_assistant):
    nodes = HybridRetriever(fake_assistant).retrieve(GALATINA)
    hits = HybridRetriever.to_hits(nodes)
    assert hits == fake_assistant.retrieve(fake_assistant.analyze(GALATINA))
    settings = Settings(answerer="llm", llm_timeout=5.0)
    reply = "Il progetto per persone con disabilità vale 715.000 euro. [1]"
    llm = LLMAnswerer(settings, fallback=ExtractiveAnswerer(min_evidence=0.3),
                      backend=ScriptedBackend(reply))
    answer = llm.answer(GALATINA, hits)
    assert answer.answerer == "llm" and "715.000" in answer.answer
    assert answer.citations[0].source == "galatina_pnrr_m5c2.txt"
    assert answer.citations[0].chunk_id == nodes[0].node.node_id


def test_a_node_from_elsewhere_is_refused_by_to_hits():
    foreign = NodeWithScore(node=TextNode(id_="x", text="altro", metadata={"source": "a"}),
                            score=1.0)
    with pytest.raises(ValueError, match="'x'"):
        HybridRetriever.to_hits([foreign])
