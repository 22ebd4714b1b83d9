"""A fake LLM server for tests: OpenAI-compatible ``/v1/chat/completions`` (with SSE streaming)
and Ollama's ``/api/chat`` (with NDJSON streaming), on 127.0.0.1 and a free port.

Use it as a context manager and tell it how to behave::

    with FakeLLMServer() as server:
        server.behave("text", text="Il progetto vale 715.000 euro [1].")
        settings = settings.replace(answerer="llm", llm_base_url=server.openai_url)
        ...
        server.requests[-1]["body"]["messages"]   # what the client sent

Behaviours (``mode``):
    text       reply ``text`` (a string, or a callable taking the request body)
    echo       reply with the last user message it received
    quote      a grounded reply: the first sentence of passage 1, then " [1]"
    status     HTTP ``status`` (default 500) with a JSON error body
    empty      a reply with empty content
    malformed  HTTP 200 with a body that is not the expected JSON
    drop       close the connection without answering
Options: ``delay`` (seconds before answering), ``chunk`` (characters per streamed piece),
``chunk_delay`` (seconds between streamed pieces).

Run it by hand for manual tests or evals:
``python tests/fake_llm_server.py --port 8089 --mode quote``
then ``ASSISTANT_ANSWERER=llm ASSISTANT_LLM_BASE_URL=http://127.0.0.1:8089/v1``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

MODES = ("text", "echo", "quote", "status", "empty", "malformed", "drop")
_PASSAGE = re.compile(r'<passaggio id="(\d+)"[^>]*>\s*(.*?)\s*</passaggio>', re.S)


def quote_reply(body: dict[str, Any]) -> str:
    """The first sentence of the first passage in the last user message, cited."""
    user = _last_user(body)
    match = _PASSAGE.search(user)
    if not match:
        return "I documenti disponibili non contengono questa informazione."
    first = re.split(r"(?<=[.!?])\s+", " ".join(match.group(2).split()))[0]
    return f"{first} [{match.group(1)}]"


def _last_user(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


class FakeLLMServer:
    """An in-process HTTP server imitating an OpenAI-compatible server and Ollama."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.requests: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.behave("quote")

    # ---- configuration -------------------------------------------------------------------
    def behave(self, mode: str = "text", text: str | Callable[[dict], str] = "",
               status: int = 500, delay: float = 0.0, chunk: int = 8,
               chunk_delay: float = 0.0) -> "FakeLLMServer":
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk!r}")
        self.mode, self.text, self.status = mode, text, status
        self.delay, self.chunk, self.chunk_delay = delay, chunk, chunk_delay
        return self

    def reset(self) -> "FakeLLMServer":
        self.requests.clear()
        return self.behave("quote")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith(("/chat/completions", "/api/chat"))]

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> "FakeLLMServer":
        server = self

        class Handler(_Handler):
            fake = server

        httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        httpd.handle_error = lambda request, address: None  # clients that hang up are fine
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # ---- replies -------------------------------------------------------------------------
    def reply_text(self, body: dict[str, Any]) -> str:
        if self.mode == "echo":
            return _last_user(body)
        if self.mode == "quote":
            return quote_reply(body)
        if self.mode == "empty":
            return ""
        return self.text(body) if callable(self.text) else self.text


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.0"  # one request per connection; a stream ends at close

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {"_raw": raw.decode("utf-8", "replace")}

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        fake = self.fake
        fake.requests.append({"method": "GET", "path": self.path, "body": None})
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        elif self.path.startswith("/api/tags"):
            self._send(200, {"models": [{"name": "fake", "model": "fake"}]})
        elif self.path.startswith("/api/version"):
            self._send(200, {"version": "0.0.0-fake"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        fake = self.fake
        body = self._body()
        fake.requests.append({"method": "POST", "path": self.path, "body": body,
                              "time": time.monotonic()})
        if self.path.startswith("/api/show"):
            self._send(200, {"modelinfo": {"llama.context_length": 8192}})
            return
        openai = self.path.rstrip("/").endswith("/chat/completions")
        if not openai and not self.path.startswith("/api/chat"):
            self._send(404, {"error": f"no route {self.path}"})
            return
        fake.wait(fake.delay)
        mode = fake.mode
        if mode == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if mode == "status":
            self._send(fake.status, {"error": {"message": "fake failure", "type": "server_error",
                                               "code": fake.status}})
            return
        if mode == "malformed":
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type",
                                 "text/event-stream" if openai else "application/x-ndjson")
                self.end_headers()
                self.wfile.write(b"data: {not json\n\n" if openai else b"{not json\n")
            else:
                self._send(200, b"{\"choices\": [{\"mess", "application/json")
            return
        text = fake.reply_text(body)
        model = body.get("model", "fake")
        if openai:
            self._openai(text, model, bool(body.get("stream")))
        else:
            self._ollama(text, model, body.get("stream", True) is not False)

    def _pieces(self, text: str) -> list[str]:
        size = self.fake.chunk
        return [text[i:i + size] for i in range(0, len(text), size)]

    def _openai(self, text: str, model: str, stream: bool) -> None:
        base = {"id": "chatcmpl-fake", "created": 0, "model": model}
        if not stream:
            self._send(200, {**base, "object": "chat.completion",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                       "total_tokens": 2}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

        def event(delta: dict, finish: str | None = None) -> None:
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()

        event({"role": "assistant", "content": ""})
        for piece in self._pieces(text):
            self.fake.wait(self.fake.chunk_delay)
            event({"content": piece})
        event({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")

    def _ollama(self, text: str, model: str, stream: bool) -> None:
        base = {"model": model, "created_at": "2024-01-01T00:00:00Z"}
        final = {**base, "message": {"role": "assistant", "content": ""}, "done": True,
                 "done_reason": "stop", "total_duration": 1, "prompt_eval_count": 1,
                 "eval_count": 1}
        if not stream:
            final["message"]["content"] = text
            self._send(200, final)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        for piece in self._pieces(text):
            self.fake.wait(self.fake.chunk_delay)
            line = {**base, "message": {"role": "assistant", "content": piece}, "done": False}
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()
        self.wfile.write(json.dumps(final).encode() + b"\n")


def main() -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--mode", choices=MODES, default="quote")
    parser.add_argument("--text", default="")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeLLMServer(port=args.port).start()
    server.behave(args.mode, text=args.text, delay=args.delay)
    print(f"fake LLM server on {server.openai_url} (Ollama API at {server.url}); Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
