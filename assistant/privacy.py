"""Masking of personal data in every text we store: feedback (questions, answers, comments,
citations), its CSV export, and log records.

Codice fiscale, IBAN, e-mail addresses, phone numbers (Italian and Swiss, with or without
+39/+41) and person names introduced by a phrase ("mi chiamo Mario Rossi", "mio padre
Giuseppe", "sono Anna Bianchi") are replaced by a label such as ``[TELEFONO]``. Dates, years
and amounts ("€ 1.250.000", "2022-2024", "17/06/2003") are left alone. Masking errs on the
side of masking: a stray number that looks like a phone number is hidden too.

Every pattern does bounded work at each position (bounded repeats, possessive or atomic
groups, look-behinds that start a match only at the beginning of a run), so masking is
linear in the length of the text: a megabyte is masked in well under a second.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping

from .datafiles import load_yaml
from .text import normalize

# omocodia: digits of a codice fiscale may be replaced by these letters
_D = "[0-9LMNPQRSTUV]"
CODICE_FISCALE = re.compile(
    rf"(?<![A-Za-z0-9])[A-Z]{{6}}{_D}{{2}}[ABCDEHLMPRST]{_D}{{2}}[A-Z]{_D}{{3}}[A-Z]"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE)
# the start of a codice fiscale where a quote cuts the text ("RSSMRA80A0…", "RSSMRA80A0»")
CODICE_FISCALE_CUT = re.compile(
    rf"(?<![A-Za-z0-9])[A-Z]{{6}}\d{{2}}(?:[ABCDEHLMPRST](?:{_D}{{1,2}}(?:[A-Z]{_D}{{0,3}})?)?)?"
    r"(?=[…»”\"]|\.\.\.)", re.IGNORECASE)
# groups of four after the check digits, written together or spaced; a spaced group must
# hold a digit so that the words after an IBAN are not taken for a part of it
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}"
                  r"(?:[A-Z0-9]{4}|[ ](?=[A-Z]{0,3}\d)[A-Z0-9]{4}){2,7}"
                  r"(?:[ ]?(?=[A-Z]{0,3}\d)[A-Z0-9]{1,4})?(?![A-Za-z0-9])", re.IGNORECASE)
# A match starts only where a run of address characters starts (the look-behind), and each
# part is bounded: the old ``[\w.+-]+@`` rescanned a long word from every one of its
# letters (quadratic; 60,000 letters took 15 s).
# The domain may be cut ("mario.rossi@examp»" where a refusal quotes a question cut short).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,128}+@[\w-]{0,63}+(?:\.[\w-]{1,63}+){0,8}",
                   re.UNICODE)
_NOT_DATE_OR_AMOUNT = (r"(?!\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?!\d))"  # 17.06.2003, 01-02-24
                       r"(?!\d{1,3}(?:\.\d{3}){1,12}+(?:,\d{1,12}+)?(?![\d.]))")  # 320.000.000
PHONE = re.compile(
    r"(?<![\w€$£.,/+])"
    + _NOT_DATE_OR_AMOUNT
    + r"(?:(?:\+|00)\s?\d{2,3}[\s.-]?(?:\(0\)\s?)?)?"   # +39, 0039, +41 (0)
    r"(?:\(?0\d{1,4}\)?(?:[\s./-]?\d){5,8}"            # landline: 0833 123456, 044 668 18 00
    r"|3\d{2}(?:[\s.-]?\d){6,7}"                       # Italian mobile: 333 123 4567
    r"|7[5-9](?:[\s.-]?\d){7})"                        # Swiss mobile after +41: 79 123 45 67
    r"(?![\w/])")
PHONE_INTERNATIONAL = re.compile(
    r"(?<![\w.,+])(?:\+|00)\d{1,3}(?:\s?\(0\))?(?:[\s.-]?\d){6,12}(?![\w])")

_REQUIRED = ("email", "iban", "codice_fiscale", "phone")
_NAME_WORD = re.compile(r"[^\W\d_]{1,40}+(?:['’][^\W\d_]{1,40}+)?")
_LAST_WORD = re.compile(r"([^\W\d_]{1,40})[^\w]{1,3}$")
_GAP = re.compile(r"[ \t]{1,3}|[ \t]?,[ \t]{1,2}|[ \t]?:[ \t]{1,2}")
_SPACE = re.compile(r"[ \t]{1,2}")
_NEVER = re.compile(r"(?!)")


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One pattern finding any of ``phrases`` as whole words (longest first)."""
    parts = []
    forms = {form for p in phrases for form in (p.lower(), normalize(p)) if form.strip()}
    if not forms:
        return _NEVER
    for phrase in sorted(forms, key=len, reverse=True):
        body = r"\s{1,3}".join(re.escape(w) for w in phrase.split())
        end = r"(?![^\W\d_])" if phrase[-1].isalpha() else ""
        parts.append(body + end)
    initials = "".join(sorted({c for f in forms for c in (f[0].lower(), f[0].upper())}))
    # the class of initials first: most positions fail at once, before the alternatives
    return re.compile(r"(?=[" + re.escape(initials) + r"])(?<![^\W\d_])(?:"
                      + "|".join(parts) + ")", re.IGNORECASE)


@dataclass(frozen=True)
class NameWords:
    """The word lists of ``data/privacy_it.yaml`` (normalised)."""

    naming: re.Pattern[str]
    relation: re.Pattern[str]
    weak: re.Pattern[str]
    first_names: frozenset[str]
    not_names: frozenset[str]
    place_words: frozenset[str]
    # a capitalised known first name, then a capitalised word: "Maria Rossi"
    full_name: re.Pattern[str]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "NameWords":
        missing = [k for k in ("naming_phrases", "relation_phrases", "weak_phrases",
                               "first_names", "not_names", "place_words") if k not in data]
        if missing:
            raise ValueError(f"name word lists lack {', '.join(missing)}; got {sorted(data)!r}")
        forms = sorted({f.capitalize() for n in data["first_names"]
                        for f in (str(n), normalize(str(n))) if f.strip()},
                       key=len, reverse=True)
        initials = re.escape("".join(sorted({f[0] for f in forms})))
        full_name = _NEVER if not forms else re.compile(r"(?=[" + initials + r"])(?<![^\W\d_'’])(?:"
                               + "|".join(map(re.escape, forms))
                               + r")[ \t]{1,2}[A-ZÀ-ÖØ-Þ][^\W\d_]{0,40}+")
        return cls(_phrase_pattern(data["naming_phrases"]),
                   _phrase_pattern(data["relation_phrases"]),
                   _phrase_pattern(data["weak_phrases"]),
                   frozenset(normalize(str(w)) for w in data["first_names"]),
                   frozenset(normalize(str(w)) for w in data["not_names"]),
                   frozenset(normalize(str(w)) for w in data["place_words"]), full_name)


@lru_cache(maxsize=1)
def _default_name_words() -> NameWords:
    return NameWords.from_data(load_yaml("privacy_it.yaml"))


def _capitalised(word: str) -> bool:
    return word[0].isupper() and not word.isupper()


class NameDetector:
    """Finds person names: after a phrase that introduces one ("mi chiamo", "mio padre",
    "sono" before a known first name), or a known first name followed by a capitalised
    surname ("Maria Rossi") not preceded by a place word ("via Giuseppe Mazzini")."""

    def __init__(self, words: NameWords | None = None) -> None:
        if words is not None and not isinstance(words, NameWords):
            raise ValueError(f"words must be NameWords, got {words!r:.80}")
        self.words = words or _default_name_words()
        from .text import stopwords

        self.stopwords = stopwords()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every name found, in order, not overlapping."""
        found: list[tuple[int, int]] = []
        for pattern, kind in ((self.words.naming, "naming"), (self.words.relation, "relation"),
                              (self.words.weak, "weak")):
            for match in pattern.finditer(text):
                span = self._name_after(text, match.end(), kind)
                if span:
                    found.append(span)
        found.extend(self._bare_names(text))
        return _merge(found)

    def _name_after(self, text: str, pos: int, kind: str) -> tuple[int, int] | None:
        gap = _GAP.match(text, pos)
        if not gap:
            return None
        first = _NAME_WORD.match(text, gap.end())
        if not first:
            return None
        word = first.group()
        key = _key(word)
        known = key in self.words.first_names
        if kind == "naming":
            ok = key not in self.stopwords
        elif kind == "relation":
            ok = (_capitalised(word) and key not in self.words.not_names) or known
        else:
            ok = _capitalised(word) and known
        if not ok:
            return None
        end = self._surname_end(text, first.end(), lower_ok=kind == "naming"
                                and not _capitalised(word))
        return first.start(), end

    def _surname_end(self, text: str, end: int, lower_ok: bool) -> int:
        """Up to two more words of the name: capitalised ones ("Rossi", "De Luca"), or for
        a name typed in lower case after "mi chiamo", one more word that is not a stopword."""
        for _ in range(2):
            gap = _SPACE.match(text, end)
            if not gap:
                break
            word = _NAME_WORD.match(text, gap.end())
            if not word:
                break
            value, key = word.group(), _key(word.group())
            if _capitalised(value) and key not in self.words.not_names:
                end = word.end()
            elif lower_ok and value.islower() and key not in self.stopwords \
                    and key not in self.words.not_names:
                end = word.end()
                break
            else:
                break
        return end

    def _bare_names(self, text: str) -> Iterable[tuple[int, int]]:
        covered = 0
        for match in self.words.full_name.finditer(text):
            if match.start() < covered:  # inside the name just found
                continue
            surname = match.group().split()[-1]
            if surname.isupper() or _key(surname) in self.words.not_names \
                    or _key(surname) in self.words.place_words:
                continue
            before = _LAST_WORD.search(text, max(0, match.start() - 44), match.start())
            if before and _key(before.group(1)) in self.words.place_words:
                continue
            covered = self._surname_end(text, match.end(), False)
            yield match.start(), covered


def _key(word: str) -> str:
    """A word as the word lists hold it (lower case, no accents)."""
    return word.lower() if word.isascii() else normalize(word)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class PersonalDataMasker:
    """Replaces personal data in a text with labels.

    ``labels`` maps each kind (codice_fiscale, iban, email, phone, and optionally name) to
    its replacement; by default the Italian labels of ``assistant/data/ui_it.yaml``.
    ``names`` finds person names (None: the word lists of ``data/privacy_it.yaml``).
    """

    def __init__(self, labels: Mapping[str, str] | None = None,
                 names: NameDetector | None = None) -> None:
        defaults = load_yaml("ui_it.yaml")["privacy_masks"]
        if labels is None:
            labels = defaults
        missing = [k for k in _REQUIRED if k not in labels]
        if missing:
            raise ValueError(f"labels lacks a replacement for {', '.join(missing)}; "
                             f"got keys {sorted(labels)!r}")
        if names is not None and not isinstance(names, NameDetector):
            raise ValueError(f"names must be a NameDetector, got {names!r:.80}")
        self.labels = {"name": defaults["name"], **labels}
        self.names = names or NameDetector()

    def mask(self, text: str | None) -> str:
        """``text`` with personal data replaced (``None`` becomes the empty string)."""
        if not text:
            return ""
        text = EMAIL.sub(self.labels["email"], text)
        text = IBAN.sub(self._iban, text)
        text = CODICE_FISCALE.sub(self._codice_fiscale, text)
        text = CODICE_FISCALE_CUT.sub(self.labels["codice_fiscale"], text)
        text = PHONE.sub(self.labels["phone"], text)
        text = PHONE_INTERNATIONAL.sub(self.labels["phone"], text)
        spans = self.names.spans(text)
        if spans:
            pieces, last = [], 0
            for start, end in spans:
                pieces += [text[last:start], self.labels["name"]]
                last = end
            text = "".join(pieces) + text[last:]
        return text

    def mask_value(self, value: Any) -> Any:
        """``value`` with every string inside it masked (dicts, lists and tuples walked)."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {k: self.mask_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_value(v) for v in value]
        return value

    def _codice_fiscale(self, match: re.Match[str]) -> str:
        # omocodia turns some digits into letters, never all seven: a word of sixteen
        # letters that happens to have the shape is not a codice fiscale
        value = match.group(0)
        return self.labels["codice_fiscale"] if any(c.isdigit() for c in value) else value

    def _iban(self, match: re.Match[str]) -> str:
        # an IBAN has digits after the bank code; a long word such as "IT12ABCDEFGHILMN"
        # without them is not one, and plain words never match (two digits are required)
        value = match.group(0)
        digits = sum(c.isdigit() for c in value)
        return self.labels["iban"] if digits >= 8 else value


@lru_cache(maxsize=1)
def default_masker() -> PersonalDataMasker:
    """The masker with the default labels and word lists (built once: they are data)."""
    return PersonalDataMasker()


def mask_personal_data(text: str | None) -> str:
    """``text`` with codice fiscale, IBAN, e-mail, phone numbers and names masked."""
    return default_masker().mask(text)


def field_limit(name: str) -> int:
    """The longest text (characters) a stored field keeps: ``limits`` of privacy_it.yaml."""
    limits = load_yaml("privacy_it.yaml")["limits"]
    if name not in limits:
        raise ValueError(f"no length limit for field {name!r}; known: {sorted(limits)!r}")
    return int(limits[name])


def clip(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    text = text or ""
    return text if len(text) <= limit else text[:max(0, limit - 1)] + "…"


# ---- logs ----------------------------------------------------------------------------------
class PersonalDataLogFilter(logging.Filter):
    """A handler filter that masks each record's message, arguments and traceback, so that
    nothing a citizen typed reaches a log file in clear."""

    def __init__(self, masker: PersonalDataMasker | None = None,
                 max_chars: int | None = None) -> None:
        super().__init__()
        self.masker = masker or default_masker()
        self.max_chars = max_chars or field_limit("log_message")
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_personal_data_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string still must not leak args
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.masker.mask(clip(message, self.max_chars)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker.mask(clip(record.exc_text, self.max_chars))
        if record.stack_info:
            record.stack_info = self.masker.mask(clip(record.stack_info, self.max_chars))
        record._personal_data_masked = True
        return True


def install_log_masking(logger: logging.Logger | None = None) -> PersonalDataLogFilter:
    """Put a :class:`PersonalDataLogFilter` on every handler of ``logger`` (the root logger
    by default). With no handler yet, one writing warnings to stderr is added first (what
    Python's last-resort handler would do, but masked). Called by the app and the CLI."""
    logger = logger or logging.getLogger()
    if not logger.handlers:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        logger.addHandler(stream)
    for handler in logger.handlers:
        existing = [f for f in handler.filters if isinstance(f, PersonalDataLogFilter)]
        if existing:
            found = existing[0]
        else:
            found = PersonalDataLogFilter()
            handler.addFilter(found)
    return found


__all__ = ["NameDetector", "NameWords", "PersonalDataLogFilter", "PersonalDataMasker",
           "clip", "default_masker", "field_limit", "install_log_masking",
           "mask_personal_data"]
