"""Two faces: the public app (``python app.py``, really started) serves only the citizens'
functions; the operator app, on its own port, answers nothing but its login page without
a session, through ``gradio_client`` and raw HTTP to every route either app has."""

from __future__ import annotations

import http.client
import json
import re
import sys
import urllib.parse
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from app_server import OPERATORS, running_app  # noqa: E402

pytestmark = pytest.mark.slow

PUBLIC_APIS = {"/chiedi", "/servizi", "/domanda"}
OPERATOR_APIS = {"cerca_interventi", "esporta_valutazioni", "domande_senza_risposta"}
OPERATOR_FUNCTIONS = {"on_search", "on_upload", "on_delete", "on_export", "on_report",
                      "on_refresh"}
OPEN_OPERATOR_PATHS = {"/accesso", "/accesso/", "/favicon.ico"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("two-faces")) as info:
        yield info


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Both FastAPI apps built in this process over a small index, for their route lists."""
    import shutil

    from assistant import Assistant, HashingEmbedder, Settings
    from assistant.ui.server import create_operator_server, create_server
    from assistant.ui.webconfig import WebSettings

    folder = tmp_path_factory.mktemp("routes")
    shutil.copytree(Path(__file__).resolve().parent.parent / "corpus", folder / "corpus")
    bot = Assistant(Settings(corpus_dir=folder / "corpus", index_dir=folder / "index",
                             embedder="hashing"), embedder=HashingEmbedder())
    bot.ingest()
    web = WebSettings(users_file=folder / "operatori.yaml")
    return create_server(bot, web=web), create_operator_server(bot, web=web)


def _paths(app) -> list[tuple[str, set[str]]]:
    """Every route of a FastAPI app and of the apps mounted in it: (concrete path, methods)."""
    out: list[tuple[str, set[str]]] = []

    def walk(routes, prefix=""):
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's included routers
            if included is not None:
                context = getattr(route, "include_context", None)
                walk(included.routes, prefix + (getattr(context, "prefix", "") or ""))
                continue
            sub = getattr(route, "routes", None)
            if sub is not None and hasattr(route, "path"):  # a mounted app (Gradio's)
                walk(sub, prefix + route.path)
                continue
            path = getattr(route, "path", None)
            if path is None:
                continue
            concrete = re.sub(r"\{api_name[^}]*\}", "cerca_interventi", prefix + path)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            out.append((concrete or "/", set(getattr(route, "methods", None) or {"GET"})))

    walk(app.routes)
    return out


def _request(base: str, method: str, path: str, cookie: str | None = None,
             body: bytes | None = None, headers: dict | None = None):
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent = {"Accept": "application/json", **(headers or {})}
    if cookie:
        sent["Cookie"] = cookie
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    # event streams (queue data, dev reload) never end: their first bytes are enough
    streaming = "text/event-stream" in (response.getheader("content-type") or "")
    data = response.read1(65536) if streaming else response.read(1 << 20)
    connection.close()
    return response.status, dict((k.lower(), v) for k, v in response.getheaders()), data


def _login(base: str, name: str, password: str):
    body = urllib.parse.urlencode({"nome": name, "password": password}).encode()
    return _request(base, "POST", "/accesso", body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded",
                             "Accept": "text/html"})


def _session_cookie(headers: dict) -> str:
    match = re.search(r"(sessione_operatore=[^;]+)", headers.get("set-cookie", ""))
    assert match, headers
    return match.group(1)


# ---- the public app ------------------------------------------------------------------------
def test_public_api_lists_only_citizen_endpoints(app):
    from gradio_client import Client

    api = Client(app["url"], verbose=False).view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == PUBLIC_APIS
    assert not api.get("unnamed_endpoints")
    status, _, body = _request(app["url"], "GET", "/config")
    config = json.loads(body)
    names = {d.get("api_name") for d in config["dependencies"]}
    assert not names & (OPERATOR_APIS | OPERATOR_FUNCTIONS)
    kinds = {c["type"] for c in config["components"]}
    assert not kinds & {"uploadbutton", "downloadbutton", "file"}


def test_raw_http_to_every_public_route_reaches_no_operator_function(app, built):
    public, _ = built
    for path, methods in _paths(public):
        for method in sorted(methods & {"GET", "POST"}):
            status, _, body = _request(app["url"], method, path, body=b"{}"
                                       if method == "POST" else None)
            text = body.decode("utf-8", "replace")
            assert status < 500, (method, path, status, text[:200])
            for name in OPERATOR_APIS:
                assert name not in text or status >= 400, (method, path)
    # the operator functions cannot be called by name or by index
    for name in OPERATOR_APIS:
        for route in (f"/gradio_api/call/{name}", f"/gradio_api/run/{name}"):
            status, _, body = _request(app["url"], "POST", route, body=b'{"data": []}')
            assert status == 404 and b"Intervento" not in body, route
    status, _, body = _request(app["url"], "POST", "/gradio_api/queue/join",
                               body=json.dumps({"data": [], "fn_index": 99,
                                                "session_hash": "x"}).encode())
    assert status >= 400 or b"error" in body.lower()
    # nothing can be stored through the public app
    status, _, _ = _request(app["url"], "POST", "/gradio_api/upload", body=b"x",
                            headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 404
    assert _request(app["url"], "GET", "/monitoring/summary")[0] == 404


def test_every_public_page_has_a_csp_with_frame_ancestors(app):
    for path in ("/", "/config", "/interfaccia/ui.js",
                 "/documenti/casarano_piano_sociale_2022_2024.txt", "/documenti/nonesiste"):
        _, headers, _ = _request(app["url"], "GET", path, headers={"Accept": "text/html"})
        assert "frame-ancestors 'self'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff"
    _, headers, body = _request(app["url"], "GET", "/", headers={"Accept-Encoding": "br, gzip"})
    assert b'lang="it"' in body[:200] and b'lang="en"' not in body  # before any script runs
    assert "script-src 'self' 'unsafe-inline'" in headers["content-security-policy"]
    assert "unsafe-eval" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "SAMEORIGIN"


# ---- the operator app ----------------------------------------------------------------------
def test_every_operator_route_refuses_without_a_session(app, built):
    from gradio_client import Client

    _, operator = built
    paths = _paths(operator)
    assert len(paths) > 40  # Gradio's routes are there, behind the gate
    for path, methods in paths:
        if path in OPEN_OPERATOR_PATHS:
            continue
        for method in sorted(methods & {"GET", "POST"}):
            status, headers, body = _request(app["operator_url"], method, path,
                                             body=b"{}" if method == "POST" else None)
            assert status == 401, (method, path, status)
            assert b"casarano" not in body.lower()
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
    # a page request goes to the login page
    status, headers, _ = _request(app["operator_url"], "GET", "/",
                                  headers={"Accept": "text/html"})
    assert status == 303 and headers["location"].endswith("/accesso")
    status, _, body = _request(app["operator_url"], "GET", "/accesso",
                               headers={"Accept": "text/html"})
    assert status == 200 and 'lang="it"' in body.decode() and "Accedi" in body.decode()
    with pytest.raises(Exception):
        Client(app["operator_url"], verbose=False)
    forged = "sessione_operatore=" + "A" * 43
    assert _request(app["operator_url"], "GET", "/config", cookie=forged)[0] == 401


def test_operator_login_session_api_logout(app):
    from gradio_client import Client

    password, _role = OPERATORS["anna"]
    status, headers, body = _login(app["operator_url"], "anna", "sbagliata-123")
    assert status == 401 and "non corretti" in body.decode()
    status, headers, _ = _login(app["operator_url"], "Anna", password)
    assert status == 303
    assert "httponly" in headers["set-cookie"].lower()
    assert "samesite=strict" in headers["set-cookie"].lower()
    cookie = _session_cookie(headers)
    status, _, body = _request(app["operator_url"], "GET", "/", cookie=cookie,
                               headers={"Accept": "text/html"})
    assert status == 200
    client = Client(app["operator_url"], verbose=False, headers={"Cookie": cookie})
    api = client.view_api(return_format="dict", print_info=False)
    assert {"/cerca_interventi", "/esporta_valutazioni"} <= set(api["named_endpoints"])
    table, download, status_text = client.predict("assistenza domiciliare", "", "", "", "", "",
                                                  api_name="/cerca_interventi")
    assert table["headers"][0] == "Intervento" and table["data"]
    csv_path = download["value"] if isinstance(download, dict) else download
    assert Path(csv_path).read_text(encoding="utf-8-sig").startswith("Intervento;")
    # logout ends the session on the server, not only in the browser
    _request(app["operator_url"], "GET", "/esci", cookie=cookie)
    assert _request(app["operator_url"], "GET", "/config", cookie=cookie)[0] == 401


def test_operator_login_locks_out_after_repeated_failures(app):
    password, _role = OPERATORS["bruno"]
    for _ in range(5):
        assert _login(app["operator_url"], "bruno", "tentativo-errato")[0] == 401
    status, _, body = _login(app["operator_url"], "bruno", password)
    assert status == 401 and "Troppi tentativi" in body.decode()


def test_login_from_another_site_is_refused(app):
    password, _role = OPERATORS["anna"]
    body = urllib.parse.urlencode({"nome": "anna", "password": password}).encode()
    status, headers, _ = _request(app["operator_url"], "POST", "/accesso", body=body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded",
                                           "Origin": "https://attaccante.example"})
    assert status == 403 and "set-cookie" not in headers
