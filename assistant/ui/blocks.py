"""The public Gradio interface (citizens): chat, "Servizi per me", documents read-only,
wired to :class:`~assistant.ui.callbacks.UIController`.

Only layout and wiring live here; behaviour is in ``callbacks.py`` and HTML in
``render.py``. The operator tools are another app (``operator.py``), so no endpoint of
theirs exists here. Theme, CSS and the page script are given when the app is mounted
(``server.py``).
"""

# no "from __future__ import annotations": Gradio reads the gr.LikeData annotation at run time
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from ..datafiles import read_text
from . import render, texts
from .callbacks import UIController
from .feedback import FeedbackStore
from .webconfig import WebSettings

SCRIPT_URL = "interfaccia/ui.js"


def theme() -> Any:
    """A Gradio theme with system fonts only (no Google Fonts, no CDN) and every text at
    4.5:1 or more against its background (WCAG 2.1 AA; measured in the browser test)."""
    import gradio as gr

    base = gr.themes.Soft(primary_hue="blue", neutral_hue="slate",
                          font=["system-ui", "-apple-system", "Segoe UI", "Roboto",
                                "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
    return base.set(
        body_text_color="*neutral_900", body_text_color_subdued="*neutral_600",
        body_text_color_dark="*neutral_50", body_text_color_subdued_dark="*neutral_300",
        block_label_text_color="*neutral_700", block_label_text_color_dark="*neutral_200",
        block_title_text_color="*neutral_800", block_title_text_color_dark="*neutral_100",
        block_info_text_color="*neutral_600", block_info_text_color_dark="*neutral_300",
        input_placeholder_color="*neutral_600", input_placeholder_color_dark="*neutral_300",
        checkbox_label_text_color="*neutral_800", checkbox_label_text_color_dark="*neutral_100",
        checkbox_label_background_fill_selected="*primary_700",
        checkbox_label_background_fill_selected_dark="*primary_600",
        checkbox_label_text_color_selected="white", checkbox_label_text_color_selected_dark="white",
        checkbox_background_color_selected="*primary_700",
        checkbox_border_color_selected="*primary_700",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_600",
        button_primary_background_fill_hover_dark="*primary_700",
        button_primary_text_color="white", button_primary_text_color_dark="white",
        button_primary_text_color_hover="white",
        button_secondary_text_color="*neutral_800",
        button_secondary_text_color_dark="*neutral_100",
        link_text_color="*primary_700", link_text_color_visited="*primary_800",
        link_text_color_dark="*primary_300", link_text_color_visited_dark="*primary_200",
        color_accent="*primary_700", color_accent_soft="*primary_100",
        table_text_color="*neutral_900",
    )


def css() -> str:
    return read_text("ui.css")


def head() -> str:
    """What goes in the page's <head>: the page's outer margins and the page script,
    served by the app itself."""
    return f'<style>{read_text("ui_page.css")}</style><script src="{SCRIPT_URL}" defer></script>'


def html_block(value: str = "", **options: Any) -> Any:
    """A block of the HTML that ``render.py`` writes. Gradio's Markdown shows it (sanitised);
    gr.HTML would need 'unsafe-eval' in the page's CSP for its templates."""
    import gradio as gr

    return gr.Markdown(value, sanitize_html=True, **options)


def progress_adapter(progress: Any, label: str) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, name: str) -> None:
        desc = f"{label}: {name}" if name else label
        progress((done, max(total, 1)), desc=desc)
    return report


def footer_html(web: Any) -> str:
    """The links every public page owes (accessibility statement and its feedback)."""
    links = []
    if web is not None and web.accessibility_url:
        links.append(render.link(web.accessibility_url, texts.text("accessibility.statement"),
                                 "piede-link"))
    if web is not None and web.accessibility_feedback:
        links.append(render.link(web.accessibility_feedback,
                                 texts.text("accessibility.feedback"), "piede-link"))
    return f'<nav class="piede" aria-label="{render.esc(texts.text("accessibility.statement"))}">' \
        + " · ".join(links) + "</nav>" if links else ""


def build_app(assistant: Any, controller: UIController | None = None,
              feedback: FeedbackStore | None = None, web: Any = None) -> Any:
    """The public ``gr.Blocks`` (not launched; see :func:`assistant.ui.create_server`)."""
    import gradio as gr

    ui = controller or UIController(assistant, feedback=feedback)
    t = texts.text
    with gr.Blocks(title=t("app_title"), analytics_enabled=False) as demo:
        html_block(f'<header class="intestazione"><h1>{t("app_title")}</h1>'
                f'<p>{t("app_subtitle")}</p></header>')
        with gr.Tabs(elem_id="schede", overflow_behavior="wrap"):
            with gr.Tab(t("tabs.chat"), id="chat", elem_id="scheda-chat"):
                _chat_tab(ui, t)
            with gr.Tab(t("tabs.services"), id="servizi", elem_id="scheda-servizi"):
                _services_tab(ui, t)
            with gr.Tab(t("tabs.documents"), id="documenti", elem_id="scheda-documenti"):
                _documents_tab(ui, t, demo)
        footer = footer_html(web)
        if footer:
            html_block(footer)
        from gradio.events import api  # gradio re-exports it without listing it in __all__

        api(ui.ask_json, api_name="domanda")
    demo.queue(default_concurrency_limit=2)
    # bounded per-session memory: read by gr.mount_gradio_app (Gradio's default is 10,000)
    demo.state_session_capacity = web.max_sessions if web is not None \
        else WebSettings().max_sessions
    return demo


@dataclass
class _Conversation:
    """The chat tab's conversation column: what its events read and write."""

    chatbot: Any
    question: Any
    send: Any
    new_chat: Any
    feedback_status: Any
    comment_row: Any
    comment: Any
    comment_send: Any


def _chat_tab(ui: UIController, t: Any) -> None:
    """The conversation and its feedback on the left, the search filters on the right."""
    import gradio as gr

    records = gr.State([])
    feedback_id = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            chat = _conversation(t)
        with gr.Column(scale=1, min_width=250, elem_id="filtri"):
            filters = _filters(ui, t)
    _wire_chat(ui, chat, filters, records, feedback_id)


def _conversation(t: Any) -> _Conversation:
    import gradio as gr

    chatbot = gr.Chatbot(
        label=t("chat.label"), show_label=False, height="62vh", min_height=360,
        elem_id="chat", placeholder=t("chat.placeholder"), buttons=["copy"],
        feedback_options=("Like", "Dislike"), autoscroll=True, layout="panel")
    with gr.Row(elem_id="riga-domanda"):
        question = gr.Textbox(
            label=t("chat.input_label"), show_label=False,
            placeholder=t("chat.input_placeholder"), scale=6, min_width=200,
            lines=1, max_lines=4, elem_id="domanda", autofocus=True)
        send = gr.Button(t("chat.send"), variant="primary", scale=1, min_width=90,
                         elem_id="invia")
    with gr.Row(elem_id="azioni-chat"):
        new_chat = gr.Button(t("chat.new_chat"), variant="secondary", size="sm",
                             elem_id="nuova-conversazione", min_width=160)
    feedback_status = gr.Markdown(visible=False, elem_id="esito-valutazione")
    with gr.Row(visible=False) as comment_row:
        comment = gr.Textbox(label=t("feedback.comment_label"),
                             placeholder=t("feedback.comment_placeholder"),
                             scale=6, min_width=200, lines=1, max_lines=3)
        comment_send = gr.Button(t("feedback.comment_send"), scale=1, min_width=110)
    gr.Markdown(t("chat.ai_notice"), elem_classes="avvertenza-ia", elem_id="avviso-ia")
    gr.Examples([[q] for q in texts.section("examples.citizens")], inputs=[question],
                label=t("chat.examples_citizens"))
    return _Conversation(chatbot, question, send, new_chat, feedback_status, comment_row,
                         comment, comment_send)


def _filters(ui: UIController, t: Any) -> list[Any]:
    """The dropdowns that narrow the search: comune, ambito, document type, year."""
    import gradio as gr

    gr.Markdown(f"## {t('filters.title')}", elem_classes="titolo-filtri")
    comune = gr.Dropdown(ui.comune_choices(), value="", label=t("filters.comune"),
                         elem_id="filtro-comune")
    ambito = gr.Dropdown(ui.ambito_choices(), value="", label=t("filters.ambito"))
    doc_type = gr.Dropdown(ui.doc_type_choices(), value="", label=t("filters.doc_type"))
    year = gr.Dropdown(ui.year_choices(), value="", label=t("filters.year"))
    gr.Markdown(t("filters.help"), elem_classes="nota-filtri")
    gr.Markdown(t("chat.disclaimer"), elem_classes="avvertenza")
    return [comune, ambito, doc_type, year]


def _wire_chat(ui: UIController, chat: _Conversation, filters: list[Any], records: Any,
               feedback_id: Any) -> None:
    """The chat tab's events: a question (the public ``chiedi`` endpoint), a rating and its
    comment, a new conversation."""
    import gradio as gr

    chat_inputs = [chat.question, chat.chatbot, records, *filters]
    chat_outputs = [chat.chatbot, chat.question, records]
    chat.question.submit(ui.chat, chat_inputs, chat_outputs, api_name="chiedi")
    chat.send.click(ui.chat, chat_inputs, chat_outputs, api_visibility="private")

    def on_like(recs: list[Any], history: list[Any], data: gr.LikeData) -> tuple[Any, ...]:
        status, fid = ui.rate(recs, history, data.index, data.liked)
        return (gr.update(value=status, visible=bool(status)),
                gr.update(visible=fid is not None), fid)

    chat.chatbot.like(on_like, [records, chat.chatbot],
                      [chat.feedback_status, chat.comment_row, feedback_id],
                      api_visibility="private")

    def on_comment(fid: int | None, text: str | None) -> tuple[Any, ...]:
        status = ui.add_comment(fid, text)
        saved = bool(fid) and bool((text or "").strip())
        return (gr.update(value=status, visible=bool(status)),
                gr.update(visible=not saved), "" if saved else text)

    for event in (chat.comment_send.click, chat.comment.submit):
        event(on_comment, [feedback_id, chat.comment],
              [chat.feedback_status, chat.comment_row, chat.comment], api_visibility="private")

    def on_new_chat() -> tuple[Any, ...]:
        return [], "", [], gr.update(value="", visible=False), gr.update(visible=False), None

    reset_outputs = [chat.chatbot, chat.question, records, chat.feedback_status,
                     chat.comment_row, feedback_id]
    chat.new_chat.click(on_new_chat, None, reset_outputs, api_visibility="private")
    chat.chatbot.clear(on_new_chat, None, reset_outputs, api_visibility="private")


def _services_tab(ui: UIController, t: Any) -> None:
    import gradio as gr

    gr.Markdown(t("services.intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            situations = gr.CheckboxGroup(ui.situation_choices(),
                                          label=t("services.situations_label"),
                                          elem_id="situazioni")
        with gr.Column(scale=1, min_width=250):
            place = gr.Dropdown(ui.place_choices(), value=None,
                                label=t("services.comune_label"), elem_id="luogo")
            services_go = gr.Button(t("services.button"), variant="primary",
                                    elem_id="mostra-servizi")
    services_out = html_block(elem_id="servizi-risultati")

    def on_services(chosen: list[str], where: str | None,
                    progress: Any = gr.Progress()) -> str:
        return ui.services(chosen, where, progress_adapter(progress, t("services.button")))

    services_go.click(on_services, [situations, place], services_out, api_name="servizi")


def _documents_tab(ui: UIController, t: Any, demo: Any) -> None:
    import gradio as gr

    doc_columns = texts.section("documents.public_columns")
    gr.Markdown(t("documents.public_intro"))
    docs = gr.Dataframe(headers=doc_columns, interactive=False, wrap=True,
                        datatype=["markdown", "str"],
                        elem_id="elenco-documenti", label=t("tabs.documents"),
                        show_label=False, buttons=[], column_widths=["68%", "32%"])

    def on_load() -> dict[str, Any]:
        return {"headers": doc_columns, "data": ui.public_document_rows()}

    demo.load(on_load, None, docs, api_visibility="private")
