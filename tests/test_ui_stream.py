"""Real streaming: the chat shows ``Assistant.ask_stream``'s text as it is written, before
the answer is complete. The fake answerer writes its first sentence, then waits until the
test has seen that sentence on screen (through the controller, then through a real Gradio
server and ``gradio_client``) before it may finish: an interface that waited for the whole
answer could never show it, and the test would fail instead of passing late."""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.app_process import free_port

from assistant import Assistant, HashingEmbedder, Settings
from assistant.ui.callbacks import UIController
from assistant.ui.feedback import FeedbackStore

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Che servizi ci sono per gli anziani a Matino?"
FIRST = "Prima frase scritta dal modello [1]."


@pytest.fixture(scope="module")
def bot(tmp_path_factory) -> Assistant:
    folder = tmp_path_factory.mktemp("stream")
    shutil.copytree(ROOT / "corpus", folder / "corpus")
    assistant = Assistant(Settings(corpus_dir=folder / "corpus", index_dir=folder / "index",
                                   embedder="hashing"), embedder=HashingEmbedder())
    assistant.ingest()
    return assistant


class SlowStream:
    """The assistant, with an ``ask_stream`` that writes one sentence and then waits for
    ``release`` before writing the rest and the final answer (the real one)."""

    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant
        self.release = threading.Event()
        self.finished = threading.Event()
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._assistant, name)

    def ask_stream(self, question, history=None, filters=None):
        self.calls += 1
        yield ("delta", FIRST + "\n")
        if not self.release.wait(120):
            raise RuntimeError("the test never released the stream")
        answer = self._assistant.ask(question, history=history, filters=filters)
        yield ("delta", "Seconda frase.\n")
        self.finished.set()
        yield ("final", answer)

    def ask(self, *args, **kwargs):  # the chat must not fall back to the whole answer
        raise AssertionError("the chat called ask() instead of ask_stream()")


def test_controller_shows_the_first_sentence_before_the_answer_is_complete(bot, tmp_path):
    slow = SlowStream(bot)
    ui = UIController(slow, feedback=FeedbackStore(tmp_path / "f.sqlite3"))
    steps = ui.chat(QUESTION, [], [])
    messages, _, _ = next(steps)  # the question and "Sto cercando…"
    assert 'aria-busy="true"' in messages[-1]["content"]
    messages, _, records = next(steps)
    partial = messages[-1]["content"]
    assert "Prima frase scritta dal modello" in partial and 'aria-busy="true"' in partial
    assert not slow.finished.is_set() and records == []
    slow.release.set()
    rest = list(steps)
    final = rest[-1][0][-1]["content"]
    assert slow.finished.is_set()
    assert 'aria-busy="false"' in final and 'class="fonte"' in final
    assert "Il comune di Matino fa parte dell" in final
    assert rest[-1][2][0]["question"] == QUESTION


@pytest.mark.slow
def test_a_real_gradio_server_streams_before_the_answer_is_complete(bot, tmp_path):
    import uvicorn
    from gradio_client import Client

    from assistant.ui.server import create_server

    slow = SlowStream(bot)
    controller = UIController(slow, feedback=FeedbackStore(tmp_path / "f.sqlite3"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_server(slow, controller), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        job = client.submit(QUESTION, [], "", "", "", "", api_name="/chiedi")
        seen = None
        while seen is None and time.monotonic() < deadline:  # a bound, not a measure
            for history, _box in job.outputs():
                content = history[-1]["content"] if history else ""
                text = content[0]["text"] if isinstance(content, list) else str(content)
                if "Prima frase scritta dal modello" in text:
                    seen = text
            time.sleep(0.05)
        assert seen is not None, "no partial answer reached the client"
        assert not slow.finished.is_set()  # the answer was not complete yet
        slow.release.set()
        history, _box = job.result(timeout=60)
        content = history[-1]["content"]
        final = content[0]["text"] if isinstance(content, list) else content
        assert 'class="fonte"' in final and slow.calls == 1
    finally:
        slow.release.set()
        server.should_exit = True
        thread.join(timeout=15)


def test_llm_answers_reach_the_chat_while_the_reply_is_still_being_written(bot, tmp_path):
    """Through the real LLM answerer and an OpenAI-compatible fake server that holds back
    the end of its reply: the first checked claim is on screen before the reply ends."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fake_llm_server import _PASSAGE, FakeLLMServer, _last_user

    class HeldServer(FakeLLMServer):
        """Sends its reply in three pieces and waits before the third until released."""

        def __init__(self) -> None:
            super().__init__()
            self.release = threading.Event()
            self.pieces = 0

        def wait(self, seconds: float) -> None:
            self.pieces += 1
            if self.pieces >= 3 and not self.release.wait(120):
                raise RuntimeError("the test never released the reply")

    def grounded_reply(body):  # the first sentence of three passages, each cited
        sentences = []
        for number, text in _PASSAGE.findall(_last_user(body))[:3]:
            first = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))[0].rstrip(".")
            sentences.append(f"{first} [{number}]. ")
        server.chunk = max(len(x) for x in sentences) + 1  # three pieces in all
        return "".join(sentences)

    with HeldServer() as server:
        server.behave("text", text=grounded_reply)
        settings = bot.settings.replace(answerer="llm", llm_base_url=server.openai_url)
        llm_bot = Assistant(settings, embedder=HashingEmbedder())
        ui = UIController(llm_bot, feedback=FeedbackStore(tmp_path / "f.sqlite3"))
        steps = ui.chat(QUESTION, [], [])
        next(steps)  # the question and "Sto cercando…"
        messages, _, records = next(steps)
        partial = messages[-1]["content"]
        assert not server.release.is_set() and records == []
        assert server.chat_requests()[-1]["body"].get("stream") is True
        assert 'class="attesa"' in partial and "<p>" in partial  # text, still being written
        server.release.set()
        final = list(steps)[-1][0][-1]["content"]
        assert 'class="fonte"' in final and 'aria-busy="false"' in final
