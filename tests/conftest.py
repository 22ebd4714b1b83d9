"""Test isolation: every test runs offline, in its own folders, with no user config."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assistant.env import configure_offline_environment

ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = ROOT / "corpus"
# real PDFs, committed with the manuals eval set (EUPL v1.2; source in its catalog.yaml)
SAMPLE_PDFS = ROOT / "evals" / "qa" / "manuals" / "corpus"

configure_offline_environment()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No ASSISTANT_* variables or assistant.toml leak in; cwd is a fresh folder."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def demo_corpus(tmp_path) -> Path:
    """A private copy of the demo corpus (tests may change it)."""
    target = tmp_path / "corpus"
    shutil.copytree(DEMO_CORPUS, target)
    return target


@pytest.fixture
def manual_pdf() -> Path:
    """A real 8-page Italian PDF made with Word (``monpnrr_manuale.pdf``): title page,
    contents, running headers, screenshots, numbered lists."""
    return SAMPLE_PDFS / "monpnrr_manuale.pdf"


@pytest.fixture
def fake_settings(tmp_path):
    from assistant import Settings

    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                    embedder="hashing")


@pytest.fixture
def fake_assistant(fake_settings, demo_corpus):
    """An assistant over the demo corpus with the deterministic hashing embedder."""
    from assistant import Assistant, HashingEmbedder

    bot = Assistant(fake_settings, embedder=HashingEmbedder())
    bot.ingest(demo_corpus)
    return bot


@pytest.fixture(scope="session")
def real_index(tmp_path_factory):
    """The demo corpus indexed once per session with the real default embedder."""
    from assistant import Assistant, Settings

    folder = tmp_path_factory.mktemp("real")
    corpus = folder / "corpus"
    shutil.copytree(DEMO_CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index")
    bot = Assistant(settings)
    bot.ingest(corpus)
    return bot


@pytest.fixture(scope="module")
def llm_server():
    """A fake LLM server (``fake_llm_server.py``, OpenAI-compatible and Ollama) for each test
    module, taken through :func:`fake_llm`. Not one for the whole run: a reply held back past
    the client's timeout (the slow-server tests) reads the server's behaviour when it wakes,
    and would take the next module's canned reply; stopping the server ends it."""
    from fake_llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def fake_llm(llm_server):
    """The fake LLM server with its default behaviour and an empty request log, before and
    after the test."""
    llm_server.reset()
    yield llm_server
    llm_server.reset()


@pytest.fixture
def llm_assistant():
    """Builds an assistant that answers through the LLM answerer at ``url`` (the fake
    server, or a closed port) over the index of ``settings`` (hashing embedder)."""
    from assistant import Assistant, HashingEmbedder

    def build(settings, url: str, provider: str = "openai-like", timeout: float = 5.0):
        llm = settings.replace(answerer="llm", llm_provider=provider, llm_base_url=url,
                               llm_model="fake-model", llm_timeout=timeout,
                               llm_max_tokens=300)
        return Assistant(llm, embedder=HashingEmbedder())

    return build


_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter):
    """Name the artifacts this run wrote (the browser test's screenshot), so CI logs show them."""
    folder = ROOT / "tests" / "artifacts"
    for path in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        if path.stat().st_mtime >= _SESSION_START:
            terminalreporter.write_line(f"artifact: {path}")
