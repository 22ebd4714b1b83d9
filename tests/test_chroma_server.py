"""Scale-out on a Chroma server: the store, the manifest and the lexical index shared by
several app processes through a real ``chroma run`` server (hashing embedder, for speed)."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from bench.app_process import free_port

from assistant import Assistant, HashingEmbedder, Settings
from assistant.errors import ConfigError
from assistant.store import ChunkStore, StoreManifest, http_address, make_client

ROOT = Path(__file__).resolve().parent.parent
CHROMA = Path(sys.executable).with_name("chroma")
QUESTION = "Quanto vale il progetto PNRR di Galatina sui percorsi di autonomia per persone " \
           "con disabilità?"


@contextmanager
def running_chroma(data: Path, port: int, config: Path | None = None,
                   env: dict[str, str] | None = None) -> Iterator[int]:
    """``chroma run`` on 127.0.0.1:port (from the flags, or from ``config``, a YAML file),
    stopped on exit."""
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed beside this Python")
    data.mkdir(parents=True, exist_ok=True)
    command = [str(CHROMA), "run", str(config)] if config else \
        [str(CHROMA), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port",
         str(port)]
    log = open(data / "server.log", "wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((data / "server.log").read_text()[-2000:])
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """A real Chroma server on a free loopback port, stopped after the module."""
    with running_chroma(tmp_path_factory.mktemp("chroma-server"), free_port()) as port:
        yield port


def http_settings(tmp_path: Path, port: int, name: str, **extra) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / f"index-{name}",
                    embedder="hashing", store="http", chroma_host="127.0.0.1",
                    chroma_port=port, **extra)


# ---- fast: addresses, errors, the token on the wire ------------------------------------------
def test_http_address_reads_scheme_host_and_port():
    assert http_address("chroma.example", 8000) == ("chroma.example", 8000, False)
    assert http_address("https://chroma.example", 8000) == ("chroma.example", 8000, True)
    assert http_address("http://10.0.0.5:9001", 8000) == ("10.0.0.5", 9001, False)
    for bad in ("", "ftp://x", "https://"):
        with pytest.raises(ConfigError) as err:
            http_address(bad, 8000)
        assert err.value.facts["setting"] == "chroma_host"
    with pytest.raises(ConfigError):
        http_address("x", 0)


def test_unreachable_server_is_a_config_error_naming_it(tmp_path):
    port = free_port()  # nothing listens there
    with pytest.raises(ConfigError) as err:
        make_client(http_settings(tmp_path, port, "x"))
    assert f"127.0.0.1:{port}" in str(err.value)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(dict(self.headers))
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_token_goes_as_bearer_header_and_a_refusal_is_reported(tmp_path):
    """A proxy in front of the server (how Chroma 1.x is secured) gets the token."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = http_settings(tmp_path, server.server_address[1], "t",
                                 chroma_token="s3greto-token")
        with pytest.raises(ConfigError, match="cannot reach the Chroma server"):
            make_client(settings)
    finally:
        server.shutdown()
    headers = {k.lower(): v for k, v in _Recorder.seen[-1].items()}
    assert headers["authorization"] == "Bearer s3greto-token"


# ---- slow: a real server ---------------------------------------------------------------------
@pytest.mark.slow
def test_shared_state_and_manifest_between_two_stores(chroma_server, tmp_path):
    settings = http_settings(tmp_path, chroma_server, "s", collection="statetest")
    writer = ChunkStore(settings, HashingEmbedder())
    reader = ChunkStore(settings, HashingEmbedder())  # another process, another machine
    writer.reset()
    assert reader.get_state() == {}
    manifest = writer.manifest(tmp_path / "unused.json")
    assert isinstance(manifest, StoreManifest) and manifest.files == {}
    manifest.signature = "hashing-256|chunker-v1"
    manifest.files["a.pdf"] = {"hash": "h1", "pages": 3, "chunks": 7}
    manifest.files["b.txt"] = {"hash": "h2", "pages": 1, "chunks": 2}
    manifest.save()
    state = reader.get_state()
    assert state["version"] == manifest.version() and state["files"] == 2
    seen = reader.manifest(tmp_path / "unused.json")
    assert seen.files == manifest.files and seen.signature == manifest.signature
    # a change made by the writer changes the version every reader polls
    del manifest.files["b.txt"]
    manifest.save()
    assert reader.get_state()["version"] != state["version"]
    assert set(reader.manifest(tmp_path / "x").files) == {"a.pdf"}
    # set_state merges; None removes
    writer.set_state(note="x")
    writer.set_state(note=None, other=1)
    assert "note" not in reader.get_state() and reader.get_state()["other"] == 1
    with pytest.raises(ValueError):
        writer.set_state(bad=[1, 2])
    # a reset (new embedder or chunker) forgets the shared manifest too
    writer.reset()
    assert reader.get_state() == {} and reader.manifest(tmp_path / "x").files == {}


def _cli(port: int, index: Path, question: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_STORE="http", ASSISTANT_CHROMA_HOST="127.0.0.1",
               ASSISTANT_CHROMA_PORT=str(port), ASSISTANT_EMBEDDER="hashing",
               ASSISTANT_COLLECTION="scaleout")
    out = subprocess.run([sys.executable, "-m", "assistant", "ask", "--index", str(index),
                          "--json", question], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_ingest_and_answer_through_a_server_with_several_processes(chroma_server, tmp_path,
                                                                   demo_corpus):
    settings = http_settings(tmp_path, chroma_server, "a", collection="scaleout")
    ingester = Assistant(settings, embedder=HashingEmbedder())
    ingester.store.reset()
    report = ingester.ingest(demo_corpus)
    assert report.files_indexed == 5 and report.chunks_total > 20
    # nothing of the index lives on this machine but the BM25 cache
    assert not (settings.index_dir / "chroma").exists()
    assert not (settings.index_dir / "manifest.json").exists()
    answer = ingester.ask(QUESTION)
    assert not answer.refused and "715.000" in answer.answer
    assert answer.citations[0].source == "galatina_pnrr_m5c2.txt"

    # another app process on "another machine": own index_dir, same server
    other = Assistant(http_settings(tmp_path, chroma_server, "b", collection="scaleout"),
                      embedder=HashingEmbedder())
    assert len(other.documents()) == 5
    assert [d["source"] for d in other.documents()] == \
        [d["source"] for d in ingester.documents()]
    seen = other.ask(QUESTION)
    assert seen.answer == answer.answer

    # a document added by the ingester reaches a lexical-only reader's BM25 index, which
    # it rebuilds from the server when the shared version changes
    lexical = Assistant(http_settings(tmp_path, chroma_server, "c", collection="scaleout",
                                      retriever="bm25"), embedder=HashingEmbedder())
    assert lexical.ask("Quanto costa il servizio di telesoccorso a Zollino?").refused
    (demo_corpus / "zollino.txt").write_text(
        "Telesoccorso a Zollino\n\nIl servizio di telesoccorso del Comune di Zollino costa "
        "12 euro al mese per ogni utente.\n", encoding="utf-8")
    assert ingester.ingest(demo_corpus).files_indexed == 1
    time.sleep(lexical.settings.state_check_seconds)  # readers re-check the shared version
    fresh = lexical.ask("Quanto costa il servizio di telesoccorso a Zollino?")
    assert not fresh.refused and "12 euro" in fresh.answer

    # the ingester removes a document: every reader drops it on its next question
    (demo_corpus / "galatina_pnrr_m5c2.txt").unlink()
    assert ingester.ingest(demo_corpus).files_removed == 1
    after = other.ask(QUESTION)
    assert all(c.source != "galatina_pnrr_m5c2.txt" for c in after.citations)
    assert all(h.chunk.source != "galatina_pnrr_m5c2.txt" for h in after.hits)

    # and a separate OS process started from the environment agrees (CLI contract)
    shutil.copy(ROOT / "corpus" / "galatina_pnrr_m5c2.txt", demo_corpus)
    assert ingester.ingest(demo_corpus).files_indexed == 1
    out = _cli(chroma_server, tmp_path / "index-cli", QUESTION)
    assert not out["refused"] and "715.000" in out["answer"]
    assert out["citations"][0]["source"] == "galatina_pnrr_m5c2.txt"


def test_a_token_chroma_cannot_send_is_refused_up_front(tmp_path):
    with pytest.raises(ConfigError) as err:
        make_client(http_settings(tmp_path, free_port(), "t", chroma_token="con spazi"))
    assert err.value.facts["setting"] == "chroma_token"


# ---- the token: Chroma 1.x does not check it; the proxy in front of it does -------------------
CHROMA_TOKEN = "s3greto-token-per-chroma"
LEGACY_AUTH = {"chroma_server_authn_provider":
               "chromadb.auth.token_authn.TokenAuthenticationServerProvider",
               "chroma_server_authn_credentials": CHROMA_TOKEN}


def bearer_proxy(upstream: int, token: str) -> http.server.ThreadingHTTPServer:
    """What docs/scale-out.md puts in front of ``chroma run``: a reverse proxy that passes a
    request on only with ``Authorization: Bearer <token>`` and answers 401 otherwise.
    ``server.forwarded`` / ``server.refused`` list the paths of both kinds."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def relay(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.server.refused.append(self.path)
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.server.forwarded.append(self.path)
            upstream_conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "authorization", "connection")}
            upstream_conn.request(self.command, self.path, body=body, headers=headers)
            response = upstream_conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.forwarded, server.refused = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.slow
def test_chroma_run_does_not_enforce_its_old_token_settings(tmp_path):
    """Why docs/scale-out.md needs a proxy: chromadb 1.5.9's ``chroma run`` (the Rust
    server) starts with the 0.x token settings, in its config file and in the environment,
    and still lets a client without any token write. If this test fails, Chroma checks
    tokens itself again: say so in docs/scale-out.md."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    port = free_port()
    config = tmp_path / "chroma.yaml"
    config.write_text(json.dumps({"persist_path": str(tmp_path / "db"), "port": port,
                                  "listen_address": "127.0.0.1", **LEGACY_AUTH}))
    env = {k.upper(): v for k, v in LEGACY_AUTH.items()}
    with running_chroma(tmp_path, port, config=config, env=env):
        anyone = chromadb.HttpClient(host="127.0.0.1", port=port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        planted = anyone.get_or_create_collection("intrusione")
        planted.add(ids=["x"], documents=["testo falso"], embeddings=[[0.1, 0.2]])
        assert planted.count() == 1


@pytest.mark.slow
def test_the_token_from_the_environment_opens_a_proxied_server_and_nothing_else(
        chroma_server, tmp_path):
    proxy = bearer_proxy(chroma_server, CHROMA_TOKEN)
    env = {"ASSISTANT_STORE": "http", "ASSISTANT_CHROMA_HOST": "127.0.0.1",
           "ASSISTANT_CHROMA_PORT": str(proxy.server_address[1]),
           "ASSISTANT_CHROMA_TOKEN": CHROMA_TOKEN, "ASSISTANT_EMBEDDER": "hashing",
           "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
           "ASSISTANT_COLLECTION": "tokentest"}
    try:
        settings = Settings.load(env=env)
        assert settings.chroma_token == CHROMA_TOKEN
        store = ChunkStore(settings, HashingEmbedder())
        store.reset()
        store.set_state(note="con token")
        assert store.get_state()["note"] == "con token" and store.count() == 0
        assert len(proxy.forwarded) >= 4 and proxy.refused == []
        # without the token, or with another one, the store cannot even be opened
        for token in (None, "un-altro-token"):
            with pytest.raises(ConfigError, match="cannot reach the Chroma server"):
                make_client(settings.replace(chroma_token=token))
        assert len(proxy.refused) >= 2
    finally:
        proxy.shutdown()
