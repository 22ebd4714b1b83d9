"""Operator login without a browser: the users file (bcrypt hashes), sessions that expire,
the lock-out, roles, the ``users`` command, the web settings and the launch warnings."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from assistant import messages
from assistant.errors import ConfigError
from assistant.ui.auth import (LoginThrottle, Operator, OperatorLogin, SessionStore, UserFile,
                               users_main)
from assistant.ui.operator import caller
from assistant.ui.server import LoginAccess, ProxyAccess, SESSION_COOKIE, launch_warnings
from assistant.ui.webconfig import WebSettings, is_loopback


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def users(tmp_path) -> UserFile:
    users = UserFile(tmp_path / "operatori.yaml", rounds=4)
    users.add("Anna", "una-password-lunga", "amministratore")
    users.add("bruno", "altra-password-lunga", "operatore")
    return users


def test_users_file_holds_bcrypt_hashes_only_and_is_private(users):
    text = users.path.read_text(encoding="utf-8")
    assert "una-password-lunga" not in text and "$2b$04$" in text
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    data = yaml.safe_load(text)
    assert data["users"]["anna"]["role"] == "amministratore"
    assert users.verify("ANNA ", "una-password-lunga") == Operator("anna", "amministratore")
    assert users.verify("anna", "una-password-lungA") is None
    assert users.verify("nessuno", "una-password-lunga") is None
    assert users.verify("anna", "x" * 100) is None  # beyond bcrypt's 72 bytes: refused


@pytest.mark.parametrize("name, password, role, message", [
    ("a", "una-password-lunga", "operatore", "Nome utente non valido"),
    ("nome con spazi", "una-password-lunga", "operatore", "Nome utente non valido"),
    ("carla", "corta", "operatore", "almeno 10 caratteri"),
    ("carla", "è" * 40, "operatore", "al massimo 72 byte"),
    ("carla", "una-password-lunga", "sindaco", "Ruolo sconosciuto"),
])
def test_bad_users_are_refused_in_italian(users, name, password, role, message):
    with pytest.raises(ValueError, match=message):
        users.add(name, password, role)


def test_a_broken_users_file_is_a_config_error(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text("users:\n  anna: {role: operatore, password: in-chiaro}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bcrypt"):
        UserFile(path).users()
    assert UserFile(tmp_path / "manca.yaml").users() == {}


def test_sessions_expire_when_idle_and_after_their_lifetime():
    clock = Clock()
    sessions = SessionStore(idle_seconds=60, max_seconds=300, clock=clock)
    token = sessions.open(Operator("anna", "operatore"))
    clock.now += 59
    assert sessions.get(token) == Operator("anna", "operatore")
    clock.now += 59  # used a second ago, so still alive
    assert sessions.get(token) is not None
    clock.now += 61
    assert sessions.get(token) is None  # idle too long
    token = sessions.open(Operator("anna", "operatore"))
    for _ in range(6):
        clock.now += 55
        alive = sessions.get(token)
    assert alive is None  # 330 s in all > 300 s even though never idle
    assert sessions.get("inventato") is None and sessions.get(None) is None


def test_sessions_are_bounded_and_can_be_closed():
    sessions = SessionStore(capacity=2)
    first = sessions.open(Operator("a", "operatore"))
    second = sessions.open(Operator("b", "operatore"))
    third = sessions.open(Operator("c", "operatore"))
    assert sessions.get(first) is None and sessions.get(third) is not None
    sessions.close(second)
    assert sessions.get(second) is None
    assert len({first, second, third}) == 3 and len(third) >= 40


def test_lock_out_after_repeated_failures_then_release(users):
    clock = Clock()
    login = OperatorLogin(users, SessionStore(clock=clock),
                          LoginThrottle(max_failures=3, lock_seconds=600, clock=clock))
    for _ in range(3):
        assert login.login("anna", "sbagliata", "10.0.0.1").message.startswith("Nome utente")
    result = login.login("anna", "una-password-lunga", "10.0.0.2")
    assert result.token is None and "Troppi tentativi" in result.message
    assert "10 minuti" in result.message
    # another user from the same address is not locked (a proxy shares addresses)
    assert login.login("bruno", "altra-password-lunga", "10.0.0.1").token
    clock.now += 601
    result = login.login("anna", "una-password-lunga", "10.0.0.2")
    assert result.token and login.operator(result.token) == Operator("anna", "amministratore")


def test_one_address_trying_many_names_is_locked_too(users):
    clock = Clock()
    login = OperatorLogin(users, throttle=LoginThrottle(2, 600, clock))
    for index in range(8):  # client threshold: four times the user's
        login.login(f"utente{index}", "sbagliata", "10.9.9.9")
    assert "Troppi tentativi" in login.login("anna", "una-password-lunga", "10.9.9.9").message
    assert login.login("anna", "una-password-lunga", "10.0.0.1").token


def test_a_removed_user_or_changed_role_ends_the_session(users):
    login = OperatorLogin(users)
    token = login.login("bruno", "altra-password-lunga").token
    assert login.operator(token).role == "operatore"
    users.add("bruno", "altra-password-lunga", "amministratore")
    assert login.operator(token) is None
    token = login.login("bruno", "altra-password-lunga").token
    users.remove("bruno")
    assert login.operator(token) is None


def test_roles_and_the_caller_of_a_gradio_request(users):
    access = LoginAccess(OperatorLogin(users))
    token = access.login.login("bruno", "altra-password-lunga").token
    request = SimpleNamespace(cookies={SESSION_COOKIE: token}, headers={})
    operator = caller(access, request)
    assert operator.can("search") and operator.can("feedback_export")
    assert not operator.can("documents_edit")
    assert Operator("anna", "amministratore").can("documents_edit")
    assert caller(access, SimpleNamespace(cookies={}, headers={})) is None
    assert caller(access, None) is None


def test_proxy_access_trusts_the_configured_header_only(users):
    proxy = ProxyAccess("X-Remote-User", users)
    assert proxy.identify(SimpleNamespace(headers={"x-remote-user": "Anna"}, cookies={})) \
        == Operator("anna", "amministratore")
    assert proxy.identify(SimpleNamespace(headers={"x-remote-user": "zoe"}, cookies={})) \
        == Operator("zoe", "operatore")
    assert proxy.identify(SimpleNamespace(headers={}, cookies={})) is None
    assert ProxyAccess().identify(SimpleNamespace(headers={}, cookies={})).can("documents_edit")


def test_users_command_adds_lists_and_removes(tmp_path):
    path = tmp_path / "op.yaml"
    out, err = io.StringIO(), io.StringIO()
    code = users_main(["--file", str(path), "add", "carla", "--role", "operatore",
                       "--password-stdin"], out, err, io.StringIO("password-di-carla\n"))
    assert code == 0 and "Operatore «carla» aggiunto con ruolo operatore" in out.getvalue()
    assert UserFile(path).verify("carla", "password-di-carla") == Operator("carla", "operatore")
    out = io.StringIO()
    assert users_main(["--file", str(path), "list"], out, err) == 0
    assert out.getvalue() == "carla\toperatore\n"
    err = io.StringIO()
    assert users_main(["--file", str(path), "add", "dario", "--password-stdin"], io.StringIO(),
                      err, io.StringIO("corta\n")) == 1
    assert "almeno 10 caratteri" in err.getvalue()
    assert users_main(["--file", str(path), "remove", "carla"], io.StringIO(), err) == 0
    assert users_main(["--file", str(path), "remove", "carla"], io.StringIO(), err) == 1


def test_users_command_through_python_m_assistant(tmp_path):
    from assistant.cli import main

    path = tmp_path / "op.yaml"
    import sys

    stdin = sys.stdin
    try:
        sys.stdin = io.StringIO("password-di-elena\n")
        code = main(["users", "--file", str(path), "add", "elena", "--role",
                     "amministratore", "--password-stdin"], io.StringIO(), io.StringIO())
    finally:
        sys.stdin = stdin
    assert code == 0 and UserFile(path).users()["elena"]["role"] == "amministratore"


# ---- web settings ------------------------------------------------------------------------
def test_web_settings_follow_gradio_conventions_with_precedence(tmp_path):
    assert (WebSettings.load(env={}).host, WebSettings.load(env={}).port) == ("127.0.0.1", 7860)
    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"}
    web = WebSettings.load(env=env)
    assert (web.host, web.port, web.operator_host) == ("0.0.0.0", 8080, "127.0.0.1")
    assert WebSettings.load(env={**env, "ASSISTANT_PORT": "9000"}).port == 9000
    assert WebSettings.load(env={**env, "ASSISTANT_WEB_PORT": "9100",
                                 "ASSISTANT_PORT": "9000"}).port == 9100
    assert WebSettings.load(env=env, port=9200).port == 9200
    config = tmp_path / "assistant.toml"
    config.write_text('[assistant]\nembedder = "hashing"\n[web]\noperator_port = 9999\n'
                      'accessibility_url = "https://example.it/accessibilita"\n',
                      encoding="utf-8")
    web = WebSettings.load(config, env={})
    assert web.operator_port == 9999 and web.accessibility_url.endswith("/accessibilita")


@pytest.mark.parametrize("values, setting", [
    ({"port": 0}, "port"), ({"port": 70000}, "port"), ({"operator_port": 7860}, "operator_port"),
    ({"operator_auth": "nessuna"}, "operator_auth"), ({"max_login_failures": 0},
                                                       "max_login_failures"),
    ({"frame_ancestors": "'self'; script-src *"}, "frame_ancestors"),
    ({"accessibility_url": "javascript:alert(1)"}, "accessibility_url"),
])
def test_bad_web_settings_name_the_setting(values, setting):
    with pytest.raises(ConfigError) as info:
        WebSettings(**values)
    assert info.value.facts["setting"] == setting
    [value] = values.values()
    assert setting in info.value.detail and repr(value) in info.value.detail
    assert "Configurazione non valida" in messages.for_error(info.value)


def test_web_aliases_and_their_precedence_last_wins(tmp_path):
    """defaults < [web] < GRADIO_* < ASSISTANT_HOST/PORT < ASSISTANT_WEB_* < overrides."""
    config = tmp_path / "assistant.toml"
    config.write_text('host = "10.0.0.9"\n[web]\nhost = "10.0.0.1"\nport = 8001\n',
                      encoding="utf-8")
    layers = [("GRADIO_SERVER_NAME", "10.0.0.2", "GRADIO_SERVER_PORT", "8002"),
              ("ASSISTANT_HOST", "10.0.0.3", "ASSISTANT_PORT", "8003"),
              ("ASSISTANT_WEB_HOST", "10.0.0.4", "ASSISTANT_WEB_PORT", "8004")]
    env: dict[str, str] = {}
    web = WebSettings.load(config, env=env)
    assert (web.host, web.port) == ("10.0.0.1", 8001)  # the [web] table, not the bare key
    for host_variable, host, port_variable, port in layers:
        env.update({host_variable: host, port_variable: port})
        web = WebSettings.load(config, env=env)
        assert (web.host, web.port) == (host, int(port))
    web = WebSettings.load(config, env=env, host="10.0.0.5", port=None)
    assert (web.host, web.port) == ("10.0.0.5", 8004)  # an unset flag keeps the variable
    # a lower layer's bad value does not matter once a higher one gives the setting
    assert WebSettings.load(env={"GRADIO_SERVER_PORT": "x", "ASSISTANT_PORT": "9"}).port == 9
    assert WebSettings.load(env={"ASSISTANT_PORT": "  ", "GRADIO_SERVER_PORT": "9"}).port == 9


@pytest.mark.parametrize("variable, raw, setting", [
    ("GRADIO_SERVER_PORT", "ottanta", "port"), ("ASSISTANT_PORT", "0", "port"),
    ("ASSISTANT_WEB_OPERATOR_PORT", "65536", "operator_port"),
    ("ASSISTANT_WEB_SESSION_IDLE_MINUTES", "-5", "session_idle_minutes"),
    ("ASSISTANT_WEB_OPERATOR_AUTH", "sso", "operator_auth"),
    ("ASSISTANT_WEB_COOKIE_SECURE", "forse", "cookie_secure"),
    ("ASSISTANT_WEB_FRAME_ANCESTORS", "*;", "frame_ancestors"),
])
def test_a_bad_web_variable_names_the_variable_and_the_value(variable, raw, setting):
    with pytest.raises(ConfigError) as info:
        WebSettings.load(env={variable: raw})
    detail = info.value.detail
    assert info.value.facts["setting"] == setting
    assert setting in detail and repr(raw) in detail and f"(from {variable})" in detail
    assert variable in messages.for_error(info.value)


def test_a_bad_port_in_the_file_names_the_file_and_collisions_the_variable(tmp_path):
    config = tmp_path / "web.toml"
    config.write_text("[web]\nport = 70000\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        WebSettings.load(config, env={})
    assert "port" in info.value.detail and "70000" in info.value.detail
    assert str(config) in info.value.detail
    config.write_text("[web]\noperator_port = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="operator_port must be a number, got True"):
        WebSettings.load(config, env={})
    with pytest.raises(ConfigError) as info:
        WebSettings.load(env={"ASSISTANT_WEB_OPERATOR_PORT": "7860"})
    assert str(info.value) == ("operator_port must differ from port (7860) "
                               "(from ASSISTANT_WEB_OPERATOR_PORT)")
    assert WebSettings.load(env={"ASSISTANT_WEB_OPERATOR_PORT": "0",
                                 "ASSISTANT_PORT": "7861"}).port == 7861


def test_unknown_web_keys_are_named_and_other_tables_left_alone(tmp_path):
    config = tmp_path / "assistant.toml"
    config.write_text('top_k = 3\n[web]\nprot = 8000\ncolore = "blu"\n[assistant]\n'
                      'top_k = 4\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        WebSettings.load(config, env={})
    assert str(info.value) == f"unknown web setting(s): colore, prot (from {config})"
    assert info.value.facts["setting"] == "colore"
    with pytest.raises(ConfigError, match="unknown web setting"):
        WebSettings.load(env={}, colour="blu")
    with pytest.raises(ConfigError, match="unknown web setting"):
        WebSettings(colour="blu")
    assert WebSettings.load(tmp_path / "no.toml", env={"ASSISTANT_WEB_COLOUR": "1"}) == \
        WebSettings()  # ASSISTANT_WEB_* variables are read for known settings only
    config.write_text("web = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[web\] must be a table"):
        WebSettings.load(config, env={})
    assert WebSettings.load(tmp_path / "nessuno.toml", env={}) == WebSettings()  # as before


def test_web_settings_are_typed_frozen_and_built_from_their_arguments_only(monkeypatch,
                                                                         tmp_path):
    monkeypatch.setenv("ASSISTANT_WEB_PORT", "9000")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assistant.toml").write_text("[web]\nhost = \"0.0.0.0\"\n", encoding="utf-8")
    web = WebSettings(users_file="utenti.yaml")  # type: ignore[arg-type]
    assert (web.port, web.host, web.users_file) == (7860, "127.0.0.1", Path("utenti.yaml"))
    assert (WebSettings.load().port, WebSettings.load().host) == (9000, "0.0.0.0")
    loaded = WebSettings.load(env={"ASSISTANT_WEB_USERS_FILE": "altro.yaml",
                                   "ASSISTANT_WEB_COOKIE_SECURE": "1",
                                   "ASSISTANT_WEB_LOCKOUT_MINUTES": " 2.5 "})
    assert loaded.users_file == Path("altro.yaml") and isinstance(loaded.users_file, Path)
    assert loaded.cookie_secure is True and loaded.lockout_minutes == 2.5
    with pytest.raises(Exception, match="frozen"):
        web.port = 1  # type: ignore[misc]
    assert web.replace(port=8080).port == 8080 and web.port == 7860
    with pytest.raises(ConfigError, match="port"):
        web.replace(port=0)


def test_loopback_and_launch_warnings(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    users = UserFile(tmp_path / "u.yaml", rounds=4)
    web = WebSettings(users_file=users.path)
    assert any("nessun operatore" in w for w in launch_warnings(web))
    users.add("anna", "una-password-lunga", "operatore")
    assert launch_warnings(web) == []
    assert launch_warnings(web.replace(host="0.0.0.0")) == []  # citizens only there
    exposed = launch_warnings(web.replace(operator_host="0.0.0.0", operator_auth="proxy"))
    assert len(exposed) == 1 and "ATTENZIONE" in exposed[0] and "0.0.0.0" in exposed[0]
    assert any("cookie_secure" in w for w in
               launch_warnings(web.replace(operator_host="0.0.0.0")))
    assert launch_warnings(web.replace(operator_host="0.0.0.0", cookie_secure=True)) == []
    assert launch_warnings(web.replace(operator_port=0)) == []


def test_app_takes_the_public_address_from_gradio_variables():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "app_under_test", Path(__file__).resolve().parent.parent / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    args = app.parse_args([], env={"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"})
    assert (args.host, args.port, args.web.operator_host) == ("0.0.0.0", 8080, "127.0.0.1")
    args = app.parse_args(["--operator-port", "0"], env={"GRADIO_SERVER_PORT": "8080"})
    assert not args.web.operator_enabled
    with pytest.raises(SystemExit):
        app.parse_args(["--operator-port", "7860"], env={})


def test_transparency_notice_and_accessibility_links():
    from assistant.ui import texts
    from assistant.ui.blocks import footer_html

    assert "non decide se lei ha diritto" in texts.text("chat.ai_notice")
    assert footer_html(WebSettings()) == ""
    html = footer_html(WebSettings(accessibility_url="https://comune.example.it/accessibilita",
                                   accessibility_feedback="mailto:urp@comune.example.it"))
    assert 'href="https://comune.example.it/accessibilita"' in html
    assert "Dichiarazione di accessibilità" in html
    assert 'href="mailto:urp@comune.example.it"' in html and "Segnala un problema" in html


def test_gate_and_security_headers_in_process():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from assistant.ui.server import OperatorGate, PublicRoutesOnly, SecurityHeaders

    who = {"operator": None}
    app = FastAPI()

    @app.get("/dati")
    def data():
        return {"segreto": 1}

    app.add_middleware(OperatorGate, identify=lambda request: who["operator"])
    app.add_middleware(SecurityHeaders, frame_ancestors="'none'")
    client = TestClient(app)
    refused = client.get("/dati")
    assert refused.status_code == 401 and "effettui l'accesso" in refused.json()["detail"]
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert refused.headers["x-frame-options"] == "DENY"
    page = client.get("/dati", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/accesso"
    who["operator"] = Operator("anna", "operatore")
    assert client.get("/dati").json() == {"segreto": 1}

    public = FastAPI()

    @public.post("/gradio_api/call/{name}")
    def call(name: str):
        return {"chiamata": name}

    public.add_middleware(PublicRoutesOnly, api_names={"chiedi"})
    public.add_middleware(SecurityHeaders, frame_ancestors="'self' https://www.comune.example.it")
    client = TestClient(public)
    assert client.post("/gradio_api/call/chiedi").json() == {"chiamata": "chiedi"}
    assert client.post("/gradio_api/call/cerca_interventi").status_code == 404
    assert client.post("/gradio_api/upload").status_code == 404
    assert client.get("/monitoring/summary").status_code == 404
    headers = client.post("/gradio_api/call/chiedi").headers
    assert headers["content-security-policy"].endswith(
        "frame-ancestors 'self' https://www.comune.example.it")
    assert "x-frame-options" not in headers  # it cannot name another origin
