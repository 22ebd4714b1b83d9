"""The Gradio interface: four tabs wired to :class:`~assistant.ui.callbacks.UIController`.

Only layout and wiring live here; behaviour is in ``callbacks.py`` and HTML in
``render.py``. Theme and CSS are given when the app is mounted (``server.py``).
"""

# no "from __future__ import annotations": Gradio reads the gr.LikeData annotation at run time
from typing import Any

from ..datafiles import read_text
from . import texts
from .callbacks import UIController
from .feedback import FeedbackStore


def theme() -> Any:
    """A Gradio theme with system fonts only (no Google Fonts, no CDN)."""
    import gradio as gr

    return gr.themes.Soft(primary_hue="blue", neutral_hue="slate",
                          font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])


def css() -> str:
    return read_text("ui.css")


def _progress_adapter(progress: Any, label: str):
    def report(done: int, total: int, name: str) -> None:
        desc = f"{label}: {name}" if name else label
        progress((done, max(total, 1)), desc=desc)
    return report


def build_app(assistant: Any, controller: UIController | None = None,
              feedback: FeedbackStore | None = None, stream_delay: float = 0.04) -> Any:
    """The ``gr.Blocks`` of the app (not launched; see :func:`assistant.ui.create_server`)."""
    import gradio as gr

    ui = controller or UIController(assistant, feedback=feedback, stream_delay=stream_delay)
    t = texts.text
    columns = texts.section("search.columns")
    doc_columns = texts.section("documents.columns")

    with gr.Blocks(title=t("app_title"), analytics_enabled=False) as demo:
        gr.HTML(f'<div class="intestazione"><h1>{t("app_title")}</h1>'
                f'<p>{t("app_subtitle")}</p></div>')
        records = gr.State([])
        feedback_id = gr.State(None)

        with gr.Tabs():
            # ---- chat ------------------------------------------------------------------
            with gr.Tab(t("tabs.chat"), id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label=t("chat.label"), show_label=False, height="72vh", min_height=420,
                            elem_id="chat",
                            placeholder=t("chat.placeholder"), buttons=["copy"],
                            feedback_options=("Like", "Dislike"), autoscroll=True)
                        with gr.Row():
                            question = gr.Textbox(
                                show_label=False, placeholder=t("chat.input_placeholder"),
                                scale=6, lines=1, max_lines=4, elem_id="domanda",
                                autofocus=True)
                            send = gr.Button(t("chat.send"), variant="primary", scale=1,
                                             min_width=110, elem_id="invia")
                        feedback_status = gr.Markdown(visible=False, elem_id="esito-valutazione")
                        with gr.Row(visible=False) as comment_row:
                            comment = gr.Textbox(label=t("feedback.comment_label"),
                                                 placeholder=t("feedback.comment_placeholder"),
                                                 scale=6, lines=1, max_lines=3)
                            comment_send = gr.Button(t("feedback.comment_send"), scale=1,
                                                     min_width=110)
                        with gr.Row():
                            gr.Examples([[q] for q in texts.section("examples.citizens")],
                                        inputs=[question], label=t("chat.examples_citizens"))
                            gr.Examples([[q] for q in texts.section("examples.staff")],
                                        inputs=[question], label=t("chat.examples_staff"))
                    with gr.Column(scale=1, min_width=250):
                        gr.Markdown(f"### {t('filters.title')}")
                        comune = gr.Dropdown(ui.comune_choices(), value="",
                                             label=t("filters.comune"), elem_id="filtro-comune")
                        ambito = gr.Dropdown(ui.ambito_choices(), value="",
                                             label=t("filters.ambito"))
                        doc_type = gr.Dropdown(ui.doc_type_choices(), value="",
                                               label=t("filters.doc_type"))
                        year = gr.Dropdown(ui.year_choices(), value="", label=t("filters.year"))
                        gr.Markdown(t("filters.help"), elem_classes="nota-filtri")
                        new_chat = gr.Button(t("chat.new_chat"), variant="secondary")
                        gr.Markdown(t("chat.disclaimer"), elem_classes="avvertenza")

            # ---- Servizi per me --------------------------------------------------------
            with gr.Tab(t("tabs.services"), id="servizi"):
                gr.Markdown(t("services.intro"))
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2):
                        situations = gr.CheckboxGroup(ui.situation_choices(),
                                                      label=t("services.situations_label"))
                    with gr.Column(scale=1, min_width=250):
                        place = gr.Dropdown(ui.place_choices(), value=None,
                                            label=t("services.comune_label"))
                        services_go = gr.Button(t("services.button"), variant="primary")
                services_out = gr.HTML(elem_id="servizi-risultati")

            # ---- staff search ----------------------------------------------------------
            with gr.Tab(t("tabs.search"), id="ricerca"):
                gr.Markdown(t("search.intro"))
                with gr.Row():
                    query = gr.Textbox(label=t("search.query_label"), scale=3,
                                       placeholder=t("search.query_placeholder"))
                    s_ambito = gr.Dropdown(ui.ambito_choices(), value="", scale=1,
                                           label=t("filters.ambito"))
                    s_type = gr.Dropdown(ui.doc_type_choices(), value="", scale=1,
                                         label=t("filters.doc_type"))
                    s_year = gr.Dropdown(ui.year_choices(), value="", scale=1,
                                         label=t("filters.year"))
                with gr.Row():
                    search_go = gr.Button(t("search.button"), variant="primary", scale=1)
                    download = gr.DownloadButton(t("search.download"), visible=False, scale=1)
                search_status = gr.Markdown()
                table = gr.Dataframe(headers=columns, datatype=["str"] * len(columns),
                                     interactive=False, wrap=True, elem_id="tabella-interventi",
                                     column_widths=["32%", "17%", "15%", "12%", "9%", "15%"])

            # ---- documents -------------------------------------------------------------
            with gr.Tab(t("tabs.documents"), id="documenti"):
                limit = f"{assistant.settings.max_file_mb:g}"
                gr.Markdown(t("documents.intro", limit_mb=limit))
                docs = gr.Dataframe(headers=doc_columns, interactive=False, wrap=True,
                                    elem_id="tabella-documenti",
                                    column_widths=["42%", "30%", "8%", "8%", "12%"])
                with gr.Row():
                    # no file_types: Gradio would refuse other files with an English error,
                    # while the Uploader explains in Italian why a file is not accepted
                    upload_go = gr.UploadButton(t("documents.upload_button"),
                                                file_count="multiple", type="filepath",
                                                variant="primary", elem_id="carica")
                    refresh = gr.Button(t("documents.refresh"))
                upload_out = gr.HTML()

        # ---- wiring ----------------------------------------------------------------------
        chat_inputs = [question, chatbot, records, comune, ambito, doc_type, year]
        chat_outputs = [chatbot, question, records]
        question.submit(ui.chat, chat_inputs, chat_outputs, api_name="chiedi")
        send.click(ui.chat, chat_inputs, chat_outputs, api_visibility="private")

        def on_like(recs, history, data: gr.LikeData):
            status, fid = ui.rate(recs, history, data.index, data.liked)
            return (gr.update(value=status, visible=bool(status)),
                    gr.update(visible=fid is not None), fid)

        chatbot.like(on_like, [records, chatbot], [feedback_status, comment_row, feedback_id],
                     api_visibility="private")

        def on_comment(fid, text):
            status = ui.add_comment(fid, text)
            saved = bool(fid) and bool((text or "").strip())
            return (gr.update(value=status, visible=bool(status)),
                    gr.update(visible=not saved), "" if saved else text)

        comment_send.click(on_comment, [feedback_id, comment],
                           [feedback_status, comment_row, comment], api_visibility="private")
        comment.submit(on_comment, [feedback_id, comment],
                       [feedback_status, comment_row, comment], api_visibility="private")

        def on_new_chat():
            return [], "", [], gr.update(value="", visible=False), gr.update(visible=False), None

        reset_outputs = [chatbot, question, records, feedback_status, comment_row, feedback_id]
        new_chat.click(on_new_chat, None, reset_outputs, api_visibility="private")
        chatbot.clear(on_new_chat, None, reset_outputs, api_visibility="private")

        def on_services(chosen, where, progress=gr.Progress()):
            return ui.services(chosen, where,
                               _progress_adapter(progress, t("services.button")))

        services_go.click(on_services, [situations, place], services_out, api_name="servizi")

        def on_search(text, amb, kind, yr):
            rows, path, status = ui.search(text, amb, kind, yr)
            return ({"headers": columns, "data": rows},
                    gr.update(value=path, visible=bool(path)), status)

        search_go.click(on_search, [query, s_ambito, s_type, s_year],
                        [table, download, search_status], api_name="cerca_interventi")
        query.submit(on_search, [query, s_ambito, s_type, s_year],
                     [table, download, search_status], api_visibility="private")

        filter_boxes = [comune, ambito, doc_type, year, place, s_ambito, s_type, s_year]

        def choices_updates():
            return [gr.update(choices=ui.comune_choices()), gr.update(choices=ui.ambito_choices()),
                    gr.update(choices=ui.doc_type_choices()), gr.update(choices=ui.year_choices()),
                    gr.update(choices=ui.place_choices()), gr.update(choices=ui.ambito_choices()),
                    gr.update(choices=ui.doc_type_choices()),
                    gr.update(choices=ui.year_choices())]

        def on_upload(paths, progress=gr.Progress()):
            summary = ui.upload(paths, _progress_adapter(progress, t("documents.progress")))
            return [summary, {"headers": doc_columns, "data": ui.document_rows()},
                    *choices_updates()]

        upload_go.upload(on_upload, [upload_go], [upload_out, docs, *filter_boxes],
                         api_visibility="private")

        def on_refresh():
            ui.refresh_facets()
            return [{"headers": doc_columns, "data": ui.document_rows()}, *choices_updates()]

        refresh.click(on_refresh, None, [docs, *filter_boxes], api_visibility="private")

        def on_load():
            return {"headers": doc_columns, "data": ui.document_rows()}

        demo.load(on_load, None, docs, api_visibility="private")
        gr.api(ui.ask_json, api_name="domanda")

    demo.queue(default_concurrency_limit=2)
    return demo
