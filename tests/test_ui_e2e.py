"""End to end: ``python app.py`` really started (hashing embedder, demo corpus indexed at
start), asked through ``gradio_client`` like any API user, documents fetched over HTTP."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from app_server import running_app  # noqa: E402

CASARANO_TITLE = "Piano sociale di zona 2022-2024 dell'Ambito di Casarano (LeccePrima)"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("e2e")) as info:
        yield info


def _get(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers)


def test_app_indexes_at_start_and_answers_through_gradio_client(app):
    from gradio_client import Client

    assert "Indice assente" in app["log"].read_text()
    assert (app["workdir"] / "index" / "manifest.json").is_file()
    client = Client(app["url"], verbose=False)
    history, box = client.predict("Che servizi ci sono per gli anziani a Matino?", [], "", "",
                                  "", "", api_name="/chiedi")
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    content = history[-1]["content"]
    html = content[0]["text"] if isinstance(content, list) else content
    assert "Il comune di Matino fa parte dell" in html
    assert CASARANO_TITLE.replace("'", "&#x27;") in html
    assert "<mark>" in html
    # the source link opens the document at the cited passage, escaped
    start = html.index('href="documenti/') + len('href="')
    link = html[start:html.index('"', start)].replace("&amp;", "&")
    status, page, headers = _get(app["url"] + link)
    assert status == 200 and '<mark id="passaggio"' in page
    assert "default-src 'none'" in headers["content-security-policy"]


def test_api_endpoints_and_document_route(app):
    from gradio_client import Client

    client = Client(app["url"], verbose=False)
    data = client.predict("Cos'è il PUA?", api_name="/domanda")
    assert {"question", "answer", "refused", "citations"} <= set(data)
    assert data["citations"] and data["citations"][0]["title"]
    html = client.predict(["anziani"], "Matino", api_name="/servizi")
    assert "Assistenza domiciliare" in html and "documenti/" in html
    # the staff search is not in the public app (tests/test_app_two_faces.py)
    with pytest.raises(Exception):
        client.predict("assistenza domiciliare", "", "", "", api_name="/cerca_interventi")
    assert _get(app["url"] + "documenti/..%2F..%2Fetc%2Fpasswd")[0] == 404
    assert _get(app["url"] + "documenti/catalog.yaml")[0] == 404
