"""The soak benchmark's helpers (bench/soak.py), and the bound on the public app's
per-session memory that the soak found missing."""

from __future__ import annotations

import os
import re

import pytest

from bench.soak import (QUESTIONS, QuestionCycler, RssSampler, Tally, parse_args, read_csv,
                        rss_mb, rss_svg, write_csv)


def test_rss_is_read_from_proc_status(tmp_path):
    status = tmp_path / "4242" / "status"
    status.parent.mkdir()
    status.write_text("Name:\tpython\nVmPeak:\t 999999 kB\nVmRSS:\t  524288 kB\nThreads:\t3\n")
    assert rss_mb(4242, proc_root=tmp_path) == 512.0
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "status").write_text("Name:\tzombie\n")
    with pytest.raises(ValueError, match="7"):
        rss_mb(7, proc_root=tmp_path)
    assert 1 < rss_mb(os.getpid()) < 100_000  # this very process, through the real /proc


def test_sampler_records_time_rss_and_requests():
    clock = iter([100.0, 100.0, 105.0, 110.5]).__next__
    values = iter([300.04, 350.0, 420.0]).__next__
    served = iter([0, 12, 30]).__next__
    sampler = RssSampler(values, interval=5, count=served, clock=clock)
    assert [sampler.sample() for _ in range(3)] == [(0.0, 300.0, 0), (5.0, 350.0, 12),
                                                    (10.5, 420.0, 30)]
    with pytest.raises(ValueError, match="-1"):
        RssSampler(values, interval=-1)


def test_sampler_thread_stops_and_keeps_a_last_sample():
    sampler = RssSampler(lambda: 1.0, interval=0.01).start()
    rows = sampler.stop()
    assert len(rows) >= 2 and all(mb == 1.0 for _t, mb, _n in rows)


def test_questions_cycle_with_a_different_suffix_each_time():
    cycler = QuestionCycler(["Cos'è il PUA?", "  ", "Chi paga la retta?"], seed=3)
    asked = [next(cycler) for _ in range(6)]
    assert [q.startswith("Cos'è il PUA? ") for q in asked] == [True, False] * 3
    assert len(set(asked)) == 6 and all(re.search(r" [a-z]{4,9} \d+$", q) for q in asked)
    again = QuestionCycler(["Cos'è il PUA?", "Chi paga la retta?"], seed=3)
    assert [next(again) for _ in range(6)] == asked  # the same seed, the same questions
    with pytest.raises(ValueError):
        QuestionCycler(["", " "])


def test_the_reference_questions_feed_the_cycler():
    cycler = QuestionCycler.from_jsonl(QUESTIONS)
    assert len(cycler.questions) > 100
    assert next(cycler).startswith(cycler.questions[0])


def test_tally_percentiles_and_errors():
    tally = Tally()
    for ms in range(1, 101):
        tally.ok(ms / 1000)
    tally.failed(TimeoutError())
    tally.failed(TimeoutError())
    summary = tally.summary()
    assert summary["requests"] == 100 and summary["errors"] == 2
    assert summary["error_types"] == {"TimeoutError": 2}
    assert summary["p50_ms"] == 51.0 and summary["p95_ms"] == 96.0 and summary["max_ms"] == 100
    assert Tally().summary()["p95_ms"] is None


def test_csv_round_trip_and_svg_plot(tmp_path):
    rows = [(0.0, 380.5, 0), (60.0, 800.0, 700), (120.0, 812.25, 1500)]
    write_csv(tmp_path / "r" / "soak.csv", rows)
    assert read_csv(tmp_path / "r" / "soak.csv") == rows
    svg = rss_svg({"prima": rows, "dopo <fix>": rows[:2]}, "RSS & co")
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "dopo &lt;fix&gt;" in svg and "RSS &amp; co" in svg
    with pytest.raises(ValueError):
        rss_svg({"vuoto": []}, "x")


def test_options():
    args = parse_args(["--clients", "3", "--minutes", "0.5", "--env",
                       "ASSISTANT_WEB_MAX_SESSIONS=50"])
    assert (args.clients, args.minutes, args.env) == (3, 0.5,
                                                      {"ASSISTANT_WEB_MAX_SESSIONS": "50"})
    for bad in (["--clients", "0"], ["--env", "NOVALUE"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_public_app_keeps_at_most_max_sessions_in_memory(fake_assistant):
    """The growth the soak found: Gradio kept every visitor's session (a copy of every
    widget's config plus the conversation records) up to its default of 10,000."""
    from assistant.ui import build_app, create_server
    from assistant.ui.webconfig import WebSettings

    web = WebSettings(max_sessions=7, operator_port=0)
    demo = build_app(fake_assistant, web=web)
    create_server(fake_assistant, demo=demo, web=web)
    for visitor in range(20):
        demo.state_holder[f"sessione-{visitor}"]
    assert len(demo.state_holder.session_data) == 7
    assert "sessione-19" in demo.state_holder and "sessione-0" not in demo.state_holder
    assert build_app(fake_assistant).state_session_capacity == WebSettings().max_sessions == 1000
    with pytest.raises(Exception, match="max_sessions"):
        WebSettings.load(env={"ASSISTANT_WEB_MAX_SESSIONS": "0"})
