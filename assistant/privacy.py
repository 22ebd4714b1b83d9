"""Masking of personal data in text we store (feedback questions and comments).

Codice fiscale, IBAN, e-mail addresses and phone numbers are replaced by a label such as
``[TELEFONO]``. Dates, years and amounts ("€ 1.250.000", "2022-2024", "17/06/2003") are
left alone. Masking errs on the side of masking: a stray number that looks like a phone
number is hidden too.
"""

from __future__ import annotations

import re
from typing import Mapping

from .datafiles import load_yaml

# omocodia: digits of a codice fiscale may be replaced by these letters
_D = "[0-9LMNPQRSTUV]"
CODICE_FISCALE = re.compile(
    rf"(?<![A-Za-z0-9])[A-Z]{{6}}{_D}{{2}}[ABCDEHLMPRST]{_D}{{2}}[A-Z]{_D}{{3}}[A-Z]"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE)
# groups of four after the check digits, written together or spaced; a spaced group must
# hold a digit so that the words after an IBAN are not taken for a part of it
IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}"
                  r"(?:[A-Z0-9]{4}|[ ](?=[A-Z]{0,3}\d)[A-Z0-9]{4}){2,7}"
                  r"(?:[ ]?(?=[A-Z]{0,3}\d)[A-Z0-9]{1,4})?(?![A-Za-z0-9])", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_NOT_DATE_OR_AMOUNT = (r"(?!\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?!\d))"  # 17.06.2003, 01-02-24
                       r"(?!\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\d.]))")  # 320.000.000
PHONE = re.compile(
    r"(?<![\w€$£.,/])"
    + _NOT_DATE_OR_AMOUNT
    + r"(?:(?:\+|00)\s?\d{2,3}[\s.-]?)?"          # +39, 0039
    r"(?:\(?0\d{1,4}\)?(?:[\s./-]?\d){5,8}"          # landline: 0833 123456
    r"|3\d{2}(?:[\s.-]?\d){6,7})"                   # mobile: 333 123 4567
    r"(?![\w/])")
PHONE_INTERNATIONAL = re.compile(r"(?<![\w.,])(?:\+|00)\d{1,3}(?:[\s.-]?\d){6,12}(?!\w)")

_KINDS = ("email", "iban", "codice_fiscale", "phone")


class PersonalDataMasker:
    """Replaces personal data in a text with labels.

    ``labels`` maps each kind (codice_fiscale, iban, email, phone) to its replacement;
    by default the Italian labels of ``assistant/data/ui_it.yaml``.
    """

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        if labels is None:
            labels = load_yaml("ui_it.yaml")["privacy_masks"]
        missing = [k for k in _KINDS if k not in labels]
        if missing:
            raise ValueError(f"labels lacks a replacement for {', '.join(missing)}; "
                             f"got keys {sorted(labels)!r}")
        self.labels = dict(labels)

    def mask(self, text: str | None) -> str:
        """``text`` with personal data replaced (``None`` becomes the empty string)."""
        if not text:
            return ""
        text = EMAIL.sub(self.labels["email"], text)
        text = IBAN.sub(self._iban, text)
        text = CODICE_FISCALE.sub(self.labels["codice_fiscale"], text)
        text = PHONE.sub(self.labels["phone"], text)
        text = PHONE_INTERNATIONAL.sub(self.labels["phone"], text)
        return text

    def _iban(self, match: re.Match[str]) -> str:
        # an IBAN has digits after the bank code; a long word such as "IT12ABCDEFGHILMN"
        # without them is not one, and plain words never match (two digits are required)
        value = match.group(0)
        digits = sum(c.isdigit() for c in value)
        return self.labels["iban"] if digits >= 8 else value


def mask_personal_data(text: str | None) -> str:
    """``text`` with codice fiscale, IBAN, e-mail and phone numbers masked."""
    return PersonalDataMasker().mask(text)


__all__ = ["PersonalDataMasker", "mask_personal_data"]
