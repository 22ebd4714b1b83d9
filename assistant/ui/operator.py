"""The operator app (Ufficio di Piano, PUA staff): intervention search with CSV export,
document management, feedback export and the unanswered questions, as its own
``gr.Blocks`` served on its own port behind a login (``server.create_operator_server``).

Every callback checks the caller's role again (``access.identify``), so a session of an
"operatore" cannot change documents even by calling the endpoint directly.
"""

# no "from __future__ import annotations": Gradio reads the gr.Request annotation at run time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, TypedDict

from . import render, texts
from .auth import Operator
from .blocks import html_block, progress_adapter
from .callbacks import UIController

if TYPE_CHECKING:
    import gradio as gr

    from ..core import Assistant
    from .server import OperatorAccess, RequestCredentials

TextLookup = Callable[..., str]  # texts.text: the Italian string at a key, formatted
Allowed = Callable[["gr.Request | None", str], bool]  # may the caller do what is named


class Table(TypedDict):
    """The value of a ``gr.Dataframe``: column names and rows."""

    headers: list[str]
    data: list[list[Any]]


@dataclass(frozen=True)
class _Credentials:
    """A Gradio request's cookies and headers (header names in lower case), as
    ``identify`` reads them."""

    cookies: Mapping[str, str]
    headers: Mapping[str, str]


def caller(access: "OperatorAccess", request: "gr.Request | RequestCredentials | None"
           ) -> Operator | None:
    """The operator behind a Gradio request (cookies and headers as plain mappings)."""
    if request is None:
        return None
    cookies = dict(getattr(request, "cookies", None) or {})
    headers = {str(k).lower(): v for k, v in dict(getattr(request, "headers", None) or {}).items()}
    return access.identify(_Credentials(cookies=cookies, headers=headers))


def _choices(labels: Iterable[str] | None) -> list[tuple[str, str]]:
    return [(texts.text("filters.all"), "")] + [(label, label) for label in labels or []]


def build_operator_app(assistant: "Assistant", controller: UIController,
                       access: "OperatorAccess") -> "gr.Blocks":
    """The operator ``gr.Blocks`` (not launched)."""
    import gradio as gr

    ui = controller
    t = texts.text

    def allowed(request: "gr.Request | None", permission: str) -> bool:
        operator = caller(access, request)
        return operator is not None and operator.can(permission)

    demo: gr.Blocks  # Gradio's Blocks.__enter__ (unannotated) returns the Blocks itself
    with gr.Blocks(title=t("operator.title"), analytics_enabled=False) as demo:
        html_block(f'<header class="intestazione"><h1>{t("operator.title")}</h1></header>')
        who = gr.Markdown(elem_id="chi-accede")
        with gr.Tabs(elem_id="schede", overflow_behavior="wrap"):
            with gr.Tab(t("tabs.search"), id="ricerca", elem_id="scheda-ricerca"):
                _search_tab(ui, t, allowed)
            with gr.Tab(t("tabs.manage"), id="gestione", elem_id="scheda-gestione"):
                docs = _documents_tab(ui, t, allowed, assistant)
            with gr.Tab(t("tabs.feedback"), id="valutazioni", elem_id="scheda-valutazioni"):
                _feedback_tab(ui, t, allowed)
            with gr.Tab(t("tabs.unanswered"), id="senza-risposta",
                        elem_id="scheda-senza-risposta"):
                _unanswered_tab(ui, t, allowed)

        def on_load(request: gr.Request) -> tuple[str, Table]:
            operator = caller(access, request)
            if operator is None:
                status = t("login.required")
            elif getattr(access, "kind", "") == "proxy":
                status = t("operator.proxy_signed_in")
            else:
                status = (t("operator.signed_in", name=operator.name, role=operator.role)
                          + f' <a href="esci">{t("operator.logout")}</a>')
            return status, {"headers": texts.section("documents.columns"),
                            "data": ui.document_rows()}

        demo.load(on_load, None, [who, docs], api_visibility="private")
    demo.queue(default_concurrency_limit=2)
    return demo


def _search_tab(ui: UIController, t: TextLookup, allowed: Allowed) -> None:
    import gradio as gr

    columns = texts.section("search.columns")
    search = ui.intervention_search
    gr.Markdown(t("search.intro"))
    with gr.Row():
        query = gr.Textbox(label=t("search.query_label"), scale=3, min_width=240,
                           placeholder=t("search.query_placeholder"), elem_id="parole-chiave")
        s_ambito = gr.Dropdown(ui.ambito_choices(), value="", scale=1, min_width=160,
                               label=t("filters.ambito"))
        s_type = gr.Dropdown(ui.doc_type_choices(), value="", scale=1, min_width=160,
                             label=t("filters.doc_type"))
        s_year = gr.Dropdown(ui.year_choices(), value="", scale=1, min_width=120,
                             label=t("filters.year"))
    with gr.Row():
        s_funding = gr.Dropdown(_choices(getattr(search, "funding_labels", [])), value="",
                                label=t("search.funding_label"), min_width=200)
        s_target = gr.Dropdown(_choices(getattr(search, "target_labels", [])), value="",
                               label=t("search.target_label"), min_width=200)
    with gr.Row():
        search_go = gr.Button(t("search.button"), variant="primary", scale=1,
                              elem_id="cerca")
        download = gr.DownloadButton(t("search.download"), visible=False, scale=1)
    search_status = gr.Markdown(elem_id="esito-ricerca")
    table = gr.Dataframe(headers=columns, datatype=["str"] * len(columns),
                         interactive=False, wrap=True, elem_id="tabella-interventi",
                         label=t("tabs.search"), show_label=False, buttons=[],
                         column_widths=["32%", "17%", "15%", "12%", "9%", "15%"])

    def on_search(text: str | None, amb: str | None, kind: str | None, yr: str | None,
                  funding: str | None, target: str | None, request: gr.Request
                  ) -> tuple[Table, dict[str, Any], str]:
        if not allowed(request, "search"):
            return {"headers": columns, "data": []}, gr.update(visible=False), \
                t("operator.not_allowed")
        rows, path, status = ui.search(text, amb, kind, yr, funding, target)
        return ({"headers": columns, "data": rows},
                gr.update(value=path, visible=bool(path)), status)

    inputs = [query, s_ambito, s_type, s_year, s_funding, s_target]
    outputs = [table, download, search_status]
    search_go.click(on_search, inputs, outputs, api_name="cerca_interventi")
    query.submit(on_search, inputs, outputs, api_visibility="private")


def _documents_tab(ui: UIController, t: TextLookup, allowed: Allowed,
                   assistant: "Assistant") -> "gr.Dataframe":
    import gradio as gr

    doc_columns = texts.section("documents.columns")
    limit = f"{assistant.settings.max_file_mb:g}"
    gr.Markdown(t("documents.intro", limit_mb=limit))
    docs = gr.Dataframe(headers=doc_columns, interactive=False, wrap=True,
                        elem_id="tabella-documenti", label=t("tabs.documents"),
                        show_label=False, buttons=[],
                        column_widths=["42%", "30%", "8%", "8%", "12%"])
    with gr.Row():
        # no file_types: Gradio would refuse other files with an English error, while the
        # Uploader explains in Italian why a file is not accepted
        upload_go = gr.UploadButton(t("documents.upload_button"), file_count="multiple",
                                    type="filepath", variant="primary", elem_id="carica")
        refresh = gr.Button(t("documents.refresh"))
    replace = gr.Checkbox(value=False, label=t("documents.replace_label"),
                          elem_id="sostituisci")
    upload_out = html_block(elem_id="esito-caricamento")
    gr.Markdown(f"## {t('documents.delete_title')}", elem_classes="titolo-sezione")
    with gr.Row():
        delete_source = gr.Dropdown([row[1] for row in ui.document_rows()], value=None,
                                    label=t("documents.delete_source"), min_width=220)
        delete_confirm = gr.Textbox(label=t("documents.delete_confirmation"), min_width=220)
        delete_go = gr.Button(t("documents.delete_button"), variant="stop", min_width=200)
    delete_out = html_block(elem_id="esito-rimozione")
    _wire_documents(ui, t, allowed, doc_columns, docs, upload_go, replace, upload_out,
                    refresh, (delete_source, delete_confirm, delete_go, delete_out))
    _entry_form(ui, t, allowed)
    return docs


def _wire_documents(ui: UIController, t: TextLookup, allowed: Allowed, doc_columns: list[str],
                    docs: Any, upload_go: Any, replace: Any, upload_out: Any, refresh: Any,
                    deletion: tuple[Any, Any, Any, Any]) -> None:
    """The documents tab's events: upload, delete, refresh (the table and the list of
    documents that can be deleted follow each)."""
    import gradio as gr

    delete_source, delete_confirm, delete_go, delete_out = deletion

    def table() -> tuple[Table, dict[str, Any]]:
        rows = ui.document_rows()
        return ({"headers": doc_columns, "data": rows},
                gr.update(choices=[row[1] for row in rows], value=None))

    def on_upload(paths: list[str] | None, replace_old: bool | None, request: gr.Request,
                  progress: gr.Progress = gr.Progress()) -> tuple[str, Table, dict[str, Any]]:
        if not allowed(request, "documents_edit"):
            return render.status_html(t("documents.not_allowed"), "errore"), *table()
        summary = ui.upload(paths, progress_adapter(progress, t("documents.progress")),
                            replace=bool(replace_old))
        return summary, *table()

    upload_go.upload(on_upload, [upload_go, replace], [upload_out, docs, delete_source],
                     api_visibility="private")

    def on_delete(source: str | None, confirmation: str | None, request: gr.Request,
                  progress: gr.Progress = gr.Progress()
                  ) -> tuple[str, Table, dict[str, Any], str | None]:
        if not allowed(request, "documents_edit"):
            return render.status_html(t("documents.not_allowed"), "errore"), *table(), \
                confirmation
        result = ui.delete_document(source, confirmation,
                                    progress_adapter(progress, t("documents.progress")))
        return result, *table(), ""

    delete_go.click(on_delete, [delete_source, delete_confirm],
                    [delete_out, docs, delete_source, delete_confirm], api_visibility="private")

    def on_refresh() -> tuple[Table, dict[str, Any]]:
        ui.refresh_facets()
        return table()

    refresh.click(on_refresh, None, [docs, delete_source], api_visibility="private")


_ENTRY_FIELDS = ("title", "type", "ambito", "comuni", "year")


def _entry_form(ui: UIController, t: TextLookup, allowed: Allowed) -> None:
    """Edit one document's catalog entry (issue: title, type, ambito, comuni, year)."""
    import gradio as gr

    gr.Markdown(f"## {t('documents.edit_title')}", elem_classes="titolo-sezione")
    gr.Markdown(t("documents.edit_intro"))
    source = gr.Dropdown([row[1] for row in ui.document_rows()], value=None,
                         label=t("documents.edit_source"), elem_id="scheda-documento")
    boxes = [gr.Textbox(label=t(f"documents.edit_field_{name}"), elem_id=f"scheda-{name}")
             for name in _ENTRY_FIELDS]
    save = gr.Button(t("documents.edit_button"), variant="primary", elem_id="salva-scheda")
    out = html_block(elem_id="esito-scheda")

    def on_pick(chosen: str | None) -> list[str]:
        entry = ui.document_entry(chosen)
        return [entry[name] for name in _ENTRY_FIELDS]

    source.change(on_pick, [source], boxes, api_visibility="private")

    def on_save(chosen: str | None, title: str, kind: str, ambito: str, comuni: str, year: str,
                request: gr.Request, progress: gr.Progress = gr.Progress()) -> str:
        if not allowed(request, "documents_edit"):
            return render.status_html(t("documents.not_allowed"), "errore")
        values = dict(zip(_ENTRY_FIELDS, (title, kind, ambito, comuni, year)))
        return ui.edit_document(chosen, values,
                                progress_adapter(progress, t("documents.progress")))

    save.click(on_save, [source, *boxes], [out], api_visibility="private")


def _feedback_tab(ui: UIController, t: TextLookup, allowed: Allowed) -> None:
    import gradio as gr

    gr.Markdown(t("feedback.intro"))
    export_go = gr.Button(t("feedback.export_button"), variant="primary",
                          elem_id="esporta-valutazioni")
    export_file = gr.DownloadButton(t("feedback.download"), visible=False)
    export_status = gr.Markdown(elem_id="esito-valutazioni")

    def on_export(request: gr.Request) -> tuple[dict[str, Any], str]:
        if not allowed(request, "feedback_export"):
            return gr.update(visible=False), t("operator.not_allowed")
        path, status = ui.export_feedback()
        return gr.update(value=path, visible=bool(path)), status

    export_go.click(on_export, None, [export_file, export_status], api_name="esporta_valutazioni")


def _unanswered_tab(ui: UIController, t: TextLookup, allowed: Allowed) -> None:
    """What citizens asked that was refused or rated down: the report of the feedback
    store when it has one (``unanswered_report``), a notice otherwise."""
    import gradio as gr

    gr.Markdown(t("operator.unanswered_intro"))
    report_go = gr.Button(t("operator.unanswered_button"), variant="primary",
                          elem_id="aggiorna-senza-risposta")
    report_file = gr.DownloadButton(t("operator.unanswered_download"), visible=False)
    report_status = gr.Markdown(elem_id="esito-senza-risposta")
    report_out = html_block(elem_id="senza-risposta")

    def on_report(request: gr.Request) -> tuple[str, dict[str, Any], str]:
        if not allowed(request, "unanswered"):
            return (render.status_html(t("operator.not_allowed"), "errore"),
                    gr.update(visible=False), "")
        path, status = ui.export_unanswered()
        return ui.unanswered_html(), gr.update(value=path, visible=bool(path)), status

    report_go.click(on_report, None, [report_out, report_file, report_status],
                    api_name="domande_senza_risposta")
