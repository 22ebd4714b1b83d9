"""Which language a question is written in, among Italian and the languages citizens most
often write in instead (``assistant/data/languages.yaml``), by the mean frequency of its
words in each language (wordfreq's bundled lists): no model, no download."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

from .datafiles import load_yaml

_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class LanguageGuess:
    language: str            # "it" or one of the configured languages
    scores: dict[str, float]  # mean Zipf frequency of the words in each language


class _LanguagesFile(TypedDict):
    """``assistant/data/languages.yaml``."""

    margin: float            # how much more frequent the other language's words must be
    min_words: int           # shorter questions are taken as Italian
    refusal_it: str          # the Italian refusal
    refusal: dict[str, str]  # language code -> the refusal in that language


@lru_cache(maxsize=1)
def _config() -> _LanguagesFile:
    config: _LanguagesFile = load_yaml("languages.yaml")
    return config


def guess_language(question: str) -> LanguageGuess:
    """Italian unless another language's words are clearly more frequent ones."""
    from wordfreq import zipf_frequency

    config = _config()
    found = [w for w in _LETTERS.findall(question.lower()) if len(w) > 1]
    languages = ["it", *config["refusal"]]
    if len(found) < int(config["min_words"]):
        return LanguageGuess("it", {})
    # Italian from the full list (loaded anyway for typos); the others from wordfreq's small
    # lists, 16 MB for five languages instead of 250 MB: rare words score 0 there, which
    # only leans the guess towards Italian
    scores = {lang: sum(zipf_frequency(w, lang, wordlist="best" if lang == "it" else "small")
                        for w in found) / len(found)
              for lang in languages}
    best = max(scores, key=lambda lang: scores[lang])
    if best != "it" and scores[best] - scores["it"] >= float(config["margin"]):
        return LanguageGuess(best, scores)
    return LanguageGuess("it", scores)


def refusal_text(language: str) -> str:
    """The short refusal, in Italian and in ``language``."""
    config = _config()
    other = config["refusal"].get(language)
    return f"{config['refusal_it']} {other}" if other else config["refusal_it"]


__all__ = ["LanguageGuess", "guess_language", "refusal_text"]
