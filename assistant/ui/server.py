"""The web servers: the public app (citizens) and the operator app (staff), each a FastAPI
app with the Gradio interface mounted at the root, and uvicorn to run them together.

Every response carries a Content-Security-Policy with ``frame-ancestors``. The operator
app answers nothing but its login page without a session (``OperatorGate``), on top of
Gradio's own check (``auth_dependency``), so no route of it, Gradio's or ours, is open.
"""

# no "from __future__ import annotations": FastAPI reads the routes' Request annotation
import asyncio
import html
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import texts
from .auth import Operator, OperatorLogin, UserFile
from .callbacks import UIController
from .documents import DocumentLibrary
from .render import DOCUMENT_ROUTE

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection, Request

LOGIN_PATH = "/accesso"
LOGOUT_PATH = "/esci"
SESSION_COOKIE = "sessione_operatore"
SCRIPT_ROUTE = "/interfaccia/ui.js"
MAX_LOGIN_BODY = 4096
# The Gradio page needs inline scripts (its config) and inline styles (Svelte); nothing
# is loaded from elsewhere, and no page may be framed except by frame_ancestors.
APP_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
           "font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
           "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
           "form-action 'self'; frame-ancestors {frame_ancestors}")
DOCUMENT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                "form-action 'none'; frame-ancestors {frame_ancestors}")


def csp(frame_ancestors: str = "'self'") -> str:
    return APP_CSP.format(frame_ancestors=frame_ancestors)


class SecurityHeaders:
    """ASGI middleware: the CSP (unless the route set its own), nosniff, no referrer and,
    where it can say the same, X-Frame-Options for old browsers."""

    def __init__(self, app: ASGIApp, frame_ancestors: str = "'self'",
                 referrer: str = "no-referrer") -> None:
        self.app = app
        self.policy = csp(frame_ancestors).encode("latin-1")
        legacy = {"'self'": b"SAMEORIGIN", "'none'": b"DENY"}.get(frame_ancestors.strip())
        self.extra = [(b"x-content-type-options", b"nosniff"),
                      (b"referrer-policy", referrer.encode("latin-1"))]
        if legacy:
            self.extra.append((b"x-frame-options", legacy))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.policy))
                headers += [(k, v) for k, v in self.extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ItalianPage:
    """ASGI middleware: Gradio's page says ``<html lang="en">``; this one says "it" (WCAG
    3.1.1), in the HTML itself, before any script runs. The page is asked uncompressed from
    Gradio (it is small) so that the attribute can be changed."""

    LANG = re.compile(rb'<html(\s[^>]*?)?\slang="en"', re.S)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" \
                or scope.get("path") not in ("/", ""):
            await self.app(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"accept-encoding"]
        start: Message = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            page = self.LANG.sub(lambda m: m.group(0)[:-3] + b'it"', bytes(body), count=1)
            kept = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            kept.append((b"content-length", str(len(page)).encode("latin-1")))
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": page})

        await self.app({**scope, "headers": headers}, receive, capture)


class PublicRoutesOnly:
    """ASGI middleware of the public app: Gradio's generic upload routes answer 404 there
    (the citizens' app has no file input, so nothing may be stored through it), and so do
    its usage statistics and a call to an endpoint name the app does not have (Gradio
    would answer 500)."""

    BLOCKED = ("/gradio_api/upload", "/gradio_api/upload/", "/gradio_api/upload_progress")
    # Gradio's usage statistics (counts and timings of every function) are no one's business
    BLOCKED_PREFIXES = ("/monitoring",)
    CALL = re.compile(r"^/gradio_api/(?:call/v2|call|run|api)/([^/]+)")

    def __init__(self, app: ASGIApp, api_names: Any = ()) -> None:
        self.app = app
        self.api_names = frozenset(api_names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            call = self.CALL.match(path)
            if path in self.BLOCKED or path.startswith(self.BLOCKED_PREFIXES) \
                    or (call and call.group(1) not in self.api_names):
                await send({"type": "http.response.start", "status": 404,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await send({"type": "http.response.body", "body": b"Not Found"})
                return
        await self.app(scope, receive, send)


class OperatorGate:
    """ASGI middleware of the operator app: without a live session only the login page
    answers; a page request is sent to it, anything else gets 401 (websockets: closed)."""

    OPEN_PATHS = (LOGIN_PATH, LOGIN_PATH + "/", "/favicon.ico")

    def __init__(self, app: ASGIApp,
                 identify: Callable[["HTTPConnection"], Operator | None]) -> None:
        self.app = app
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection

        if scope["type"] == "http" and scope.get("path") in self.OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self.identify(HTTPConnection(scope)) is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await self._refuse(scope, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
        if scope.get("method") == "GET" and "text/html" in accept:
            root = scope.get("root_path", "")
            headers = [(b"location", f"{root}{LOGIN_PATH}".encode("latin-1")),
                       (b"cache-control", b"no-store")]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps({"detail": texts.text("login.required")},
                          ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


class RequestCredentials(Protocol):
    """What identifying an operator reads of a request: a Starlette connection's cookies and
    headers, or those of a Gradio request copied into plain mappings (``operator.caller``)."""

    @property
    def cookies(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class OperatorAccess(Protocol):
    """Who the operator behind a request is: :class:`LoginAccess` or :class:`ProxyAccess`."""

    kind: str

    def identify(self, request: RequestCredentials) -> Operator | None: ...


class LoginAccess:
    """Operators identified by the session cookie of :class:`OperatorLogin`."""

    kind = "login"

    def __init__(self, login: OperatorLogin, cookie_secure: bool = False) -> None:
        self.login = login
        self.cookie_secure = cookie_secure

    def identify(self, request: RequestCredentials) -> Operator | None:
        return self.login.operator(request.cookies.get(SESSION_COOKIE))


class ProxyAccess:
    """Operators let in by a reverse proxy with its own SSO. With ``user_header`` the proxy
    must name the user (role from ``users`` when listed there, else "operatore");
    without it everyone who reaches the app is an administrator."""

    kind = "proxy"

    def __init__(self, user_header: str = "", users: UserFile | None = None) -> None:
        self.user_header = user_header.strip().lower()  # Starlette's headers and dicts alike
        self.users = users

    def identify(self, request: RequestCredentials) -> Operator | None:
        if not self.user_header:
            return Operator("sso", "amministratore")
        name = (request.headers.get(self.user_header) or "").strip().lower()
        if not name:
            return None
        known = self.users.users().get(name) if self.users is not None else None
        return Operator(name, known["role"] if known else "operatore")


# ---- routes ------------------------------------------------------------------------------
def document_routes(library: DocumentLibrary, frame_ancestors: str = "'self'") -> Any:
    """``GET /documenti/{source}``: an indexed document, PDF inline or text as HTML."""
    from fastapi import APIRouter
    from fastapi.responses import FileResponse, HTMLResponse, Response

    router = APIRouter()
    page_headers = {"Content-Security-Policy": DOCUMENT_CSP.format(
        frame_ancestors=frame_ancestors), "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"}
    # the browser's PDF viewer must run: only who may frame it is said
    pdf_headers = {"Content-Security-Policy": f"frame-ancestors {frame_ancestors}",
                   "X-Content-Type-Options": "nosniff"}

    @router.get(f"/{DOCUMENT_ROUTE}/{{source:path}}", include_in_schema=False)
    def document(source: str, passaggio: str | None = None) -> Response:
        view = library.view(source, passaggio)
        if view.kind == "pdf" and view.path is not None:
            return FileResponse(view.path, media_type="application/pdf", filename=view.path.name,
                                content_disposition_type="inline", headers=pdf_headers)
        status = 200 if view.kind == "html" else 404
        return HTMLResponse(view.html, status_code=status, headers=page_headers)

    return router


def script_route(labels: dict[str, str], prefixes: dict[str, str] | None = None) -> Any:
    """``GET /interfaccia/ui.js``: the page's behaviour (Italian labels for Gradio's own
    controls, arrow keys on tabs, [n] links, aria-busy), with the labels as data."""
    from fastapi import APIRouter
    from fastapi.responses import Response

    from ..datafiles import read_text

    source = ("window.ETICHETTE_IT = " + json.dumps(labels, ensure_ascii=False) + ";\n"
              + "window.PREFISSI_IT = " + json.dumps(prefixes or {}, ensure_ascii=False)
              + ";\n" + read_text("ui.js"))
    router = APIRouter()

    @router.get(SCRIPT_ROUTE, include_in_schema=False)
    def script() -> Response:
        return Response(source, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    return router


def login_routes(access: LoginAccess) -> Any:
    """The operator app's own login page (``/accesso``) and logout (``/esci``)."""
    from fastapi import APIRouter, Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    router = APIRouter()

    @router.get(LOGIN_PATH, include_in_schema=False)
    def login_page(request: Request) -> Response:
        if access.identify(request) is not None:
            return RedirectResponse("./", status_code=303)
        note = "" if access.login.users.users() else texts.text("login.no_users")
        return HTMLResponse(login_html(note), headers={"Cache-Control": "no-store"})

    @router.post(LOGIN_PATH, include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        if not _same_origin(request):
            return HTMLResponse(login_html(texts.text("login.bad_request")), status_code=403)
        body = await _read_limited(request, MAX_LOGIN_BODY)
        if body is None:
            return HTMLResponse(login_html(texts.text("login.bad_request")), status_code=413)
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=5)
        name = (form.get("nome") or [""])[0][:128]
        password = (form.get("password") or [""])[0][:256]
        client = request.client.host if request.client else ""
        result = await asyncio.to_thread(access.login.login, name, password, client)
        if result.token is None:
            return HTMLResponse(login_html(result.message, name), status_code=401,
                                headers={"Cache-Control": "no-store"})
        response = RedirectResponse("./", status_code=303)
        response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="strict",
                            secure=access.cookie_secure, path="/")
        return response

    @router.get(LOGOUT_PATH, include_in_schema=False)
    def logout(request: Request) -> Response:
        access.login.logout(request.cookies.get(SESSION_COOKIE))
        response = HTMLResponse(login_html(texts.text("login.logged_out")),
                                headers={"Cache-Control": "no-store"})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router


async def _read_limited(request: "Request", limit: int) -> bytes | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


def _same_origin(request: "Request") -> bool:
    """A login posted from another site is refused (no login CSRF)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def login_html(message: str = "", name: str = "") -> str:
    t = texts.text
    note = (f'<p class="messaggio" role="alert">{html.escape(message)}</p>' if message else "")
    return (
        '<!DOCTYPE html><html lang="it"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(t('login.title'))}</title><style>{_LOGIN_CSS}</style></head>"
        f'<body><main><h1>{html.escape(t("login.title"))}</h1>'
        f'<p>{html.escape(t("login.intro"))}</p>{note}'
        f'<form method="post" action="accesso">'
        f'<label for="nome">{html.escape(t("login.name"))}</label>'
        f'<input id="nome" name="nome" autocomplete="username" required maxlength="64" '
        f'value="{html.escape(name, quote=True)}">'
        f'<label for="password">{html.escape(t("login.password"))}</label>'
        f'<input id="password" name="password" type="password" '
        f'autocomplete="current-password" required maxlength="256">'
        f'<button type="submit">{html.escape(t("login.submit"))}</button>'
        "</form></main></body></html>")


_LOGIN_CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f8fafc;color:#0f172a}"
    "main{max-width:24rem;margin:3rem auto;padding:1.5rem;background:#fff;"
    "border:1px solid #cbd5e1;border-radius:8px}"
    "h1{font-size:1.35rem;margin-top:0}label{display:block;margin:.9rem 0 .25rem;"
    "font-weight:600}input{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;"
    "border:1px solid #475569;border-radius:6px}button{margin-top:1.2rem;padding:.6rem 1.2rem;"
    "font-size:1rem;background:#1d4ed8;color:#fff;border:0;border-radius:6px;cursor:pointer}"
    "button:focus,input:focus{outline:3px solid #f59e0b;outline-offset:2px}"
    ".messaggio{color:#9b1c1c;font-weight:600}"
)


# ---- the two apps ------------------------------------------------------------------------
def _mount(app: Any, demo: Any, assistant: Any, **extra: Any) -> None:
    import gradio as gr

    from .blocks import css, head, theme

    # Gradio refuses bigger uploads itself; the interface explains the real limit in Italian
    upload_limit = int(max(assistant.settings.max_file_mb * 4, 10) * 1024 * 1024)
    gr.mount_gradio_app(app, demo, path="", theme=theme(), css=css(), head=head(),
                        footer_links=[], ssr_mode=False, max_file_size=upload_limit,
                        show_error=True, mcp_server=False, run_history=False, **extra)


def create_server(assistant: Any, controller: UIController | None = None,
                  demo: Any = None, feedback: Any = None, web: Any = None) -> Any:
    """The public app (citizens: chat, Servizi per me, documents read-only), documents
    served at ``/documenti/...``."""
    from fastapi import FastAPI

    from .blocks import build_app
    from .webconfig import WebSettings

    web = web or WebSettings()
    controller = controller or UIController(assistant, feedback=feedback)
    demo = demo or build_app(assistant, controller, web=web)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    api_names = {getattr(fn, "api_name", None) for fn in demo.fns.values()} - {None, False}
    app.add_middleware(PublicRoutesOnly, api_names=api_names)
    app.add_middleware(ItalianPage)
    app.add_middleware(SecurityHeaders, frame_ancestors=web.frame_ancestors)
    app.include_router(document_routes(controller.library, web.frame_ancestors))
    app.include_router(script_route(texts.section("gradio_labels"),
                                texts.section("gradio_label_prefixes")))
    _mount(app, demo, assistant)
    return app


def operator_access(web: Any) -> LoginAccess | ProxyAccess:
    from .auth import UserFile, login_from_settings

    if web.operator_auth == "proxy":
        return ProxyAccess(web.proxy_user_header, UserFile(web.users_file))
    return LoginAccess(login_from_settings(web), web.cookie_secure)


def create_operator_server(assistant: Any, controller: UIController | None = None,
                           feedback: Any = None, web: Any = None,
                           access: LoginAccess | ProxyAccess | None = None) -> Any:
    """The operator app (search and export, documents, feedback, unanswered questions),
    every route behind :class:`OperatorGate`."""
    from fastapi import FastAPI

    from .operator import build_operator_app
    from .webconfig import WebSettings

    web = web or WebSettings()
    access = access or operator_access(web)
    controller = controller or UIController(assistant, feedback=feedback)
    demo = build_operator_app(assistant, controller, access)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    # operator pages are never framed; "same-origin" lets the browser send the Origin of
    # the login form, which the login checks (with "no-referrer" it would say "null")
    app.add_middleware(ItalianPage)
    app.add_middleware(OperatorGate, identify=access.identify)
    app.add_middleware(SecurityHeaders, frame_ancestors="'none'", referrer="same-origin")
    if isinstance(access, LoginAccess):
        app.include_router(login_routes(access))
    app.include_router(document_routes(controller.library, "'none'"))
    app.include_router(script_route(texts.section("gradio_labels"),
                                texts.section("gradio_label_prefixes")))

    def current_user(request: Any) -> str | None:
        operator = access.identify(request)
        return operator.name if operator else None

    _mount(app, demo, assistant, auth_dependency=current_user)
    return app


def launch_warnings(web: Any) -> list[str]:
    """What the console says before serving: an operator app reachable from the network
    without a login of its own, no operator configured, a login cookie over plain HTTP."""
    from .auth import UserFile
    from .webconfig import is_loopback

    if not web.operator_enabled:
        return []
    warnings = []
    exposed = not is_loopback(web.operator_host)
    if web.operator_auth == "proxy" and exposed:
        warnings.append(texts.text("server.warn_public_unprotected", host=web.operator_host))
    if web.operator_auth == "login":
        if not UserFile(web.users_file).users():
            warnings.append(texts.text("server.warn_no_users", file=web.users_file))
        if exposed and not web.cookie_secure:
            warnings.append(texts.text("server.warn_login_plain_http", host=web.operator_host))
    return [" ".join(w.split()) for w in warnings]


def serve(app: Any, host: str = "127.0.0.1", port: int = 7860, log_level: str = "info") -> None:
    """Run one app with uvicorn until interrupted."""
    serve_all([(app, host, port)], log_level)


def serve_all(apps: list[tuple[Any, str, int]], log_level: str = "info") -> None:
    """Run several apps (public, operator) in one process; when one stops, all stop."""
    import uvicorn

    servers = [uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                             timeout_graceful_shutdown=3))
               for app, host, port in apps]

    async def run() -> None:
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for server in servers:
            server.should_exit = True
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    asyncio.run(run())
