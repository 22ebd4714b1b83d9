"""Settings: the sources and their order, and errors that name the setting, the value and
where it came from, in Italian at the edge."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant import Settings, messages
from assistant.cli import main as cli_main
from assistant.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def italian(exc: ConfigError) -> str:
    return messages.for_error(exc)


# ---- sources and precedence: flag > ASSISTANT_* > TOML > default --------------------------
def test_flag_beats_environment_beats_file_beats_default(tmp_path):
    config = write(tmp_path / "mio.toml", "top_k = 7\ncandidates = 30\n")
    env = {"ASSISTANT_TOP_K": "8"}
    assert Settings.load(config, env=env, top_k=9).top_k == 9
    assert Settings.load(config, env=env, top_k=None).top_k == 8  # an unset flag
    assert Settings.load(config, env=env).top_k == 8
    assert Settings.load(config, env={}).top_k == 7
    assert Settings.load(env={}).top_k == Settings().top_k == 5  # no assistant.toml here
    layered = Settings.load(config, env=env, top_k=9)
    assert layered.candidates == 30 and layered.retriever == "hybrid"  # the rest kept


def test_the_config_variable_names_the_file_and_a_given_path_must_exist(tmp_path):
    config = write(tmp_path / "mio.toml", 'retriever = "bm25"\n')
    assert Settings.load(env={"ASSISTANT_CONFIG": str(config)}).retriever == "bm25"
    write(tmp_path / "assistant.toml", 'retriever = "dense"\n')  # the working directory's
    assert Settings.load(env={}).retriever == "dense"
    with pytest.raises(ConfigError, match="configuration file not found") as info:
        Settings.load(tmp_path / "nessuno.toml", env={})
    assert info.value.facts["setting"] == "config"


def test_the_assistant_table_wins_over_bare_keys_and_other_tables_are_ignored(tmp_path):
    config = write(tmp_path / "assistant.toml",
                   'top_k = 3\n[assistant]\ntop_k = 4\n[web]\nport = 1\n')
    assert Settings.load(config, env={}).top_k == 4
    write(config, 'top_k = 3\n[web]\nnon_mio = 1\n[evals]\nx = 2\n')
    assert Settings.load(config, env={}).top_k == 3


def test_environment_strings_become_typed_values(tmp_path):
    env = {"ASSISTANT_OCR": "0", "ASSISTANT_EXPAND_ACRONYMS": "no",
           "ASSISTANT_CORRECT_TYPOS": "yes", "ASSISTANT_MIN_EVIDENCE": "0.4",
           "ASSISTANT_INDEX_DIR": str(tmp_path / "indice"), "ASSISTANT_LLM_TIMEOUT": " 12.5 ",
           "ASSISTANT_CANDIDATES": "", "ASSISTANT_TOP_K": "   "}  # blank: unset
    settings = Settings.load(env=env)
    assert (settings.ocr, settings.expand_acronyms, settings.correct_typos) == \
        (False, False, True)
    assert settings.min_evidence == 0.4 and settings.llm_timeout == 12.5
    assert settings.index_dir == tmp_path / "indice" and isinstance(settings.index_dir, Path)
    assert (settings.candidates, settings.top_k) == (20, 5)


def test_settings_built_directly_read_neither_environment_nor_file(tmp_path, monkeypatch):
    """Library code, the evals and the tests build ``Settings(...)``: the shipped defaults
    with their arguments, whatever the machine has in ASSISTANT_* or assistant.toml."""
    monkeypatch.setenv("ASSISTANT_TOP_K", "9")
    write(tmp_path / "assistant.toml", 'retriever = "bm25"\n')
    settings = Settings(embedder="hashing")
    assert (settings.top_k, settings.retriever, settings.embedder) == (5, "hybrid", "hashing")
    assert Settings.load().top_k == 9 and Settings.load().retriever == "bm25"


def test_settings_are_frozen_and_replace_validates_again():
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.top_k = 3  # type: ignore[misc]
    assert settings.replace(top_k=3, candidates=10).top_k == 3 and settings.top_k == 5
    with pytest.raises(ConfigError, match="top_k"):
        settings.replace(top_k=0)


# ---- errors: the setting, the value, the source, in Italian -------------------------------
@pytest.mark.parametrize("source", ["file", "environment", "flag"])
def test_a_bad_value_in_each_source_is_named_in_italian(tmp_path, source):
    config = write(tmp_path / "assistant.toml",
                   "top_k = -4\n" if source == "file" else "top_k = 5\n")
    env = {"ASSISTANT_TOP_K": "cinque"} if source == "environment" else {}
    flags = {"top_k": 0} if source == "flag" else {}
    with pytest.raises(ConfigError) as info:
        Settings.load(config, env=env, **flags)
    text = italian(info.value)
    assert text.startswith("Configurazione non valida: ") and info.value.facts["setting"] == "top_k"
    bad, where = {"file": ("-4", str(config)), "environment": ("'cinque'", "ASSISTANT_TOP_K"),
                  "flag": ("got 0", "")}[source]
    assert "top_k" in text and bad in text and where in text


def test_a_bad_choice_names_the_value_and_the_choices():
    with pytest.raises(ConfigError) as info:
        Settings(fusion="max")
    text = italian(info.value)
    assert "fusion" in text and "'max'" in text and "'rrf'" in text and "'scores'" in text
    with pytest.raises(ConfigError, match="ASSISTANT_EMBEDDER") as info:
        Settings.load(env={"ASSISTANT_EMBEDDER": "gpt"})
    assert "'gpt'" in str(info.value) and "'hashing'" in str(info.value)


@pytest.mark.parametrize("kw, setting, bad", [
    ({"top_k": 0}, "top_k", "0"), ({"dense_share": 1.5}, "dense_share", "1.5"),
    ({"min_evidence": -0.1}, "min_evidence", "-0.1"), ({"ocr": "forse"}, "ocr", "'forse'"),
    ({"llm_timeout": 0}, "llm_timeout", "0"), ({"chunk_overlap": 180}, "chunk_overlap", "180"),
    ({"candidates": 3}, "candidates", "3"),
    ({"embedder": "sentence-transformers"}, "embedder_path", "sentence-transformers"),
])
def test_every_check_names_its_setting(kw, setting, bad):
    with pytest.raises(ConfigError) as info:
        Settings(**kw)
    assert info.value.facts["setting"] == setting
    assert setting in info.value.detail and bad in info.value.detail


def test_a_two_setting_check_names_the_variable_too():
    with pytest.raises(ConfigError) as info:
        Settings.load(env={"ASSISTANT_CANDIDATES": "2"})
    assert str(info.value) == ("candidates (2) must be at least top_k (5) "
                               "(from ASSISTANT_CANDIDATES)")


def test_several_bad_values_are_all_named_each_with_its_source(tmp_path):
    config = write(tmp_path / "assistant.toml", "top_k = 0\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(config, env={"ASSISTANT_OCR": "forse"})
    detail = info.value.detail
    assert f"got 0 (from {config})" in detail and "got 'forse' (from ASSISTANT_OCR)" in detail


def test_unknown_keys(tmp_path):
    """As before: an unknown key in the file, a flag or an argument is an error naming it;
    ASSISTANT_* variables are read for known settings only (ASSISTANT_CONFIG,
    ASSISTANT_FEEDBACK_DB... belong to others)."""
    config = write(tmp_path / "mio.toml", "top_kk = 3\nzeta = 1\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(config, env={})
    assert str(info.value) == f"unknown setting(s): top_kk, zeta (from {config})"
    assert info.value.facts["setting"] == "top_kk"
    assert "top_kk" in italian(info.value)
    assert Settings.load(env={"ASSISTANT_TOP_KK": "3", "ASSISTANT_FEEDBACK_DB": "x"}).top_k == 5
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(env={}, colour="blu")
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings(colour="blu")


def test_a_broken_file_is_a_config_error(tmp_path):
    config = write(tmp_path / "assistant.toml", "top_k = = 3\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(config, env={})
    assert info.value.facts["setting"] == "config" and str(config) in str(info.value)
    write(config, "assistant = 3\n")
    with pytest.raises(ConfigError, match=r"\[assistant\] must be a table"):
        Settings.load(config, env={})


def test_the_command_line_prints_the_italian_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MAX_SENTENCES", "tante")
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["ask", "--index", str(tmp_path), "domanda"], stdout=out, stderr=err)
    message = err.getvalue()
    assert code == 1 and message.startswith("Configurazione non valida: ")
    assert "max_sentences" in message and "'tante'" in message
    assert "ASSISTANT_MAX_SENTENCES" in message
