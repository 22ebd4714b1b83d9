"""The LLM judge against a local fake OpenAI-compatible server (http.server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.errors import ConfigError, LLMError
from evals.cli import _make_judge
from evals.configs import load_config
from evals.dataset import load_qa
from evals.judge import LLMJudge, judge_requested, parse_score
from evals.runner import EvalRunner, IndexCache

SECOND = Path(__file__).resolve().parent.parent / "evals" / "qa" / "second"


class FakeLLM:
    """A chat-completions endpoint answering with canned replies, recording requests."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.reply = '{"score": 0.75, "reason": "ok"}'
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                payload = {"choices": [{"message": {"role": "assistant",
                                                    "content": fake.reply}}]}
                data = json.dumps(payload).encode() if fake.status == 200 else b"boom"
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm():
    server = FakeLLM()
    yield server
    server.close()


def test_judge_sends_chat_completions_and_parses_scores(llm):
    judge = LLMJudge(llm.url, "giudice", api_key="k", timeout=5)
    assert judge.faithfulness("Quanto vale?", "600 euro [1]", ["vale 600 euro"]) == 0.75
    llm.reply = "Score: 4/10"
    assert judge.relevancy("Quanto vale?", "600 euro") == pytest.approx(0.4)
    first = llm.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k"
    assert first["body"]["model"] == "giudice" and first["body"]["temperature"] == 0
    messages = first["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "vale 600 euro" in messages[1]["content"] and "Faithfulness" in messages[1]["content"]
    judge.close()


def test_judge_errors_are_llm_errors(llm):
    judge = LLMJudge(llm.url, "m", timeout=5)
    llm.status = 500
    with pytest.raises(LLMError, match="HTTP 500"):
        judge.relevancy("q", "a")
    llm.status, llm.reply = 200, "non saprei"
    with pytest.raises(LLMError, match="no score"):
        judge.relevancy("q", "a")
    with pytest.raises(ConfigError, match="base_url"):
        LLMJudge("ftp://x", "m")


@pytest.mark.parametrize("reply, score", [
    ('{"score": 1}', 1.0), ('Ecco: {"score": 0.3, "reason": "x"} fine', 0.3), ("8", 0.8),
    ("85", 0.85), ("-1", 0.0), ("0,5", 0.5)])
def test_parse_score(reply, score):
    assert parse_score(reply) == pytest.approx(score)


def test_runner_with_judge_and_with_judge_down(llm, tmp_path):
    items = load_qa(SECOND / "qa.jsonl")[:4]
    cache = IndexCache(tmp_path / "cache")
    judge = LLMJudge(llm.url, "m", timeout=5)
    run = EvalRunner(SECOND / "corpus", items, cache, judge=judge).run([load_config("hashing")])
    summary = run.configs[0].summary
    answered = sum(1 for s in run.configs[0].scores if s.answered)
    assert answered and len(llm.requests) == 2 * answered
    assert summary["judge_faithfulness"] == summary["judge_relevancy"] == 0.75
    assert run.judge_note.startswith("LLM judge: m at")

    llm.status = 503
    down = EvalRunner(SECOND / "corpus", items, cache, judge=LLMJudge(llm.url, "m", timeout=5)
                      ).run([load_config("hashing")])
    assert down.configs[0].summary["judge_faithfulness"] is None
    assert down.judge_note.startswith("LLM judge skipped") and "503" in down.judge_note
    assert down.configs[0].summary["fact_recall"] == summary["fact_recall"]


def test_judge_is_off_unless_asked(monkeypatch, llm):
    assert not judge_requested(False, {})
    assert judge_requested(False, {"ASSISTANT_LLM_JUDGE": "1"}) and judge_requested(True, {})
    judge, note = _make_judge(False)
    assert judge is None and "skipped" in note and "--judge" in note
    monkeypatch.setenv("ASSISTANT_LLM_JUDGE", "1")
    monkeypatch.setenv("ASSISTANT_LLM_BASE_URL", llm.url)
    monkeypatch.setenv("ASSISTANT_LLM_MODEL", "giudice")
    judge, note = _make_judge(False)
    assert judge.base_url == llm.url and judge.model == "giudice"
