"""The web server: a FastAPI app with the document route, the Gradio interface mounted at
the root, and uvicorn to run it."""

from __future__ import annotations

from typing import Any

from .callbacks import UIController
from .documents import DocumentLibrary
from .render import DOCUMENT_ROUTE

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def document_routes(library: DocumentLibrary) -> Any:
    """``GET /documenti/{source}``: an indexed document, PDF inline or text as HTML."""
    from fastapi import APIRouter
    from fastapi.responses import FileResponse, HTMLResponse

    router = APIRouter()

    @router.get(f"/{DOCUMENT_ROUTE}/{{source:path}}", include_in_schema=False)
    def document(source: str, passaggio: str | None = None):
        view = library.view(source, passaggio)
        if view.kind == "pdf" and view.path is not None:
            return FileResponse(view.path, media_type="application/pdf", filename=view.path.name,
                                content_disposition_type="inline",
                                headers={"X-Content-Type-Options": "nosniff"})
        status = 200 if view.kind == "html" else 404
        return HTMLResponse(view.html, status_code=status, headers=SECURITY_HEADERS)

    return router


def create_server(assistant: Any, controller: UIController | None = None,
                  demo: Any = None, feedback: Any = None, stream_delay: float = 0.04) -> Any:
    """FastAPI app serving the documents and the Gradio interface (at ``/``)."""
    import gradio as gr
    from fastapi import FastAPI

    from .blocks import build_app, css, theme

    controller = controller or UIController(assistant, feedback=feedback,
                                            stream_delay=stream_delay)
    demo = demo or build_app(assistant, controller)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(document_routes(controller.library))
    # Gradio refuses bigger uploads itself; the interface explains the real limit in Italian
    upload_limit = int(max(assistant.settings.max_file_mb * 4, 10) * 1024 * 1024)
    gr.mount_gradio_app(app, demo, path="", theme=theme(), css=css(), footer_links=[],
                        ssr_mode=False, max_file_size=upload_limit, show_error=True,
                        mcp_server=False)
    return app


def serve(app: Any, host: str = "127.0.0.1", port: int = 7860, log_level: str = "info") -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3)
