"""The web interface (Gradio) for citizens and PUA staff.

``build_app(assistant)`` gives the ``gr.Blocks``; ``create_server(assistant)`` the FastAPI
app that also serves the documents; ``serve(app, host, port)`` runs it. Behaviour lives in
:mod:`assistant.ui.callbacks` and can be used without Gradio.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "create_server", "serve", "UIController"]


def __getattr__(name: str) -> Any:  # import Gradio only when the interface is wanted
    if name == "build_app":
        from .blocks import build_app

        return build_app
    if name in ("create_server", "serve"):
        from . import server

        return getattr(server, name)
    if name == "UIController":
        from .callbacks import UIController

        return UIController
    raise AttributeError(name)
