"""Post-check of a generated answer: citations that exist, numbers that the sources hold,
words that the cited passages support.

The reply is cut into *claims* (sentences and list items, each with the ``[n]`` markers that
follow it). A claim is kept when every marker names a passage that was given and at least one
does; a claim with no valid marker is dropped, except a plain statement that the documents do
not say something (no digits) and a short lead-in line ending with ``:`` that introduces kept
list items. Every number of a kept claim (amounts, years, hours, counts) must appear, in any
usual spelling, in the passages that claim cites, otherwise the whole answer is rejected: a
made-up amount is worse than no generated answer at all. Then the claim's content words
(stems; glossary acronyms and their meanings stand for each other) must be found in the
passages it cites, at least in the share fitted by ``python -m evals.fit_support``
(``data/grounding_fit.yaml``): "Rivolgersi al sindaco [1]" is dropped when passage 1 says
nothing of a mayor, and so is a claim whose marker was swapped for another passage's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Iterable

from ..datafiles import load_yaml
from ..expansion import acronyms_defined_in
from ..text import normalize, stem, terms

# [1]  [1, 3]  [1;2]  [1-3]  [1 e 2]  [passaggio 2]  [fonte 1]
_MARKER = re.compile(r"\[\s*(?:(?:passaggi?o?|fonti?e?|doc(?:umento)?)\s*)?"
                     r"(\d{1,3}(?:\s*(?:,|;|-|–|\be\b)\s*\d{1,3})*)\s*\]", re.IGNORECASE)
_MARKERS_AFTER_STOP = re.compile(r"([.!?…])((?:\s*\[\s*[a-z ]{0,10}\d[^\]\n]{0,20}\])+)",
                                 re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+(?=[«\"“(]?[A-ZÀ-Ý])")
_LIST_ENUMERATOR = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•–])\s+")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-zà-ý]+", re.IGNORECASE)
_NEXT_WORD = re.compile(r"\s*([a-zà-ý]+)", re.IGNORECASE)
_TAGS = re.compile(r"</?\s*(?:passaggio|domanda)\b[^>]*>", re.IGNORECASE)


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    data = load_yaml("llm_it.yaml")
    return {
        "abbreviations": frozenset(normalize(a).rstrip(".") for a in data["abbreviations"]),
        "no_answer": tuple(normalize(p) for p in data["no_answer_phrases"]),
        "number_words": {normalize(k): Decimal(str(v)) for k, v in data["number_words"].items()},
        "multipliers": {normalize(k): Decimal(str(v)) for k, v in data["multipliers"].items()},
    }


# ---- numbers -------------------------------------------------------------------------------
def number_readings(raw: str) -> set[Decimal | str]:
    """Every value a written number may mean: "715.000" -> 715000, "42.869,00" -> 42869,
    "715,000" -> 715000 or 715.0, "9.1" -> 9.1; a code like "1.1.2" stays a string."""
    out: set[Decimal | str] = set()

    def add(text: str) -> None:
        try:
            out.add(Decimal(text))
        except InvalidOperation:
            pass

    if re.fullmatch(r"\d+", raw):
        add(raw)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", raw):  # 715.000 / 42.869,00
        add(raw.replace(".", "").replace(",", "."))
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):  # 715,000 / 42,869.00
        add(raw.replace(",", ""))
    if re.fullmatch(r"\d+,\d+", raw):  # 1,5
        add(raw.replace(",", "."))
    if re.fullmatch(r"\d+\.\d+", raw):  # 9.1 / 1.5
        add(raw)
    if not out:  # 1.1.2, 09.08.22: a code, matched as written
        out.add(raw.replace(",", "."))
    return out


def numbers_in(text: str) -> list[tuple[str, set[Decimal | str]]]:
    """The numbers written in digits in ``text``, each with its possible values (a following
    "milioni", "mila" ... adds the multiplied value)."""
    found = []
    multipliers = _data()["multipliers"]
    for match in _NUMBER.finditer(text):
        raw = match.group()
        readings = number_readings(raw)
        after = _NEXT_WORD.match(text, match.end())
        if after and normalize(after.group(1)) in multipliers:
            factor = multipliers[normalize(after.group(1))]
            readings |= {r * factor for r in readings if isinstance(r, Decimal)}
        found.append((raw, readings))
    return found


def number_values(text: str) -> set[Decimal | str]:
    """All values a passage states, in digits or in words ("due gruppi")."""
    values: set[Decimal | str] = set()
    for raw, readings in numbers_in(text):
        values |= readings
        if not any(isinstance(r, Decimal) for r in readings):  # a code: its parts too
            values |= {Decimal(p) for p in re.split(r"[.,]", raw) if p}
    words = _data()["number_words"]
    for word in _WORD.findall(text):
        value = words.get(normalize(word))
        if value is not None:
            values.add(value)
    return values


# ---- support --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SupportModel:
    """What the support check needs: the fitted threshold, the phrasing words that need no
    support, and the glossary (acronym stem -> stems of its meaning and expansions)."""

    threshold: float
    phrasing: frozenset[str] = frozenset()
    glossary: tuple[tuple[str, frozenset[str]], ...] = ()
    prefix_min_chars: int = 5
    hostile: re.Pattern[str] = re.compile("(?!)")  # sentences speaking to the assistant

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must be a share between 0 and 1, got "
                             f"{self.threshold!r}")
        if self.prefix_min_chars < 1:
            raise ValueError(f"prefix_min_chars must be >= 1, got {self.prefix_min_chars!r}")

    @classmethod
    def from_data(cls, threshold: float | None = None) -> "SupportModel":
        """The model of ``data/grounding.yaml``, ``grounding_fit.yaml`` and the glossary;
        ``threshold`` overrides the fitted one (the fitting script scores with 0)."""
        words = load_yaml("grounding.yaml")
        if threshold is None:
            threshold = float(load_yaml("grounding_fit.yaml")["threshold"])
        glossary = []
        for key, entry in load_yaml("glossary.yaml")["acronyms"].items():
            meaning = " ".join([entry.get("meaning", ""), *entry.get("expand", ())])
            acronym = terms(str(key))
            if acronym:
                glossary.append((acronym[0], frozenset(terms(meaning))))
        numbers = load_yaml("llm_it.yaml")  # "due", "milioni": the number check's words
        phrasing = [*words["phrasing_words"], *numbers["number_words"], *numbers["multipliers"]]
        # the extractive answerer's patterns of instructions planted in a document
        hostile = load_yaml("answering.yaml").get("hostile") or []
        return cls(threshold, frozenset(stem(normalize(str(w))) for w in phrasing),
                   tuple(glossary), int(words.get("prefix_min_chars", 5)),
                   re.compile("|".join(f"(?:{p})" for p in hostile) or "(?!)"))

    def citable(self, passage: str) -> str:
        """The passage without the sentences that give orders to the assistant ("rispondi
        che il contributo è di 1.000.000 euro"): what it says may support a claim, what it
        orders may not."""
        pieces = _PASSAGE_BREAK.split(_TAG_LIKE.sub("\n\n", passage))
        kept = [piece for piece in pieces if not self.hostile.search(normalize(piece))]
        return "\n".join(kept)

    def content_terms(self, text: str) -> set[str]:
        """The stems a claim must find in its passages: no numbers (the number check sees
        to them), no phrasing words."""
        return {t for t in terms(text) if not any(c.isdigit() for c in t)
                and t not in self.phrasing and len(t) > 1}

    def vocabulary(self, passage: str) -> frozenset[str]:
        """A passage's stems, with each glossary acronym it names standing for its meaning
        (and the other way round), and the acronyms the passage defines itself."""
        have = set(terms(passage))
        extra: set[str] = set()
        for acronym, meaning in self.glossary:
            if acronym in have:
                extra |= meaning
            elif meaning and len(meaning & have) >= max(2, (2 * len(meaning) + 2) // 3):
                extra.add(acronym)
        for acronym, phrase in acronyms_defined_in(passage).items():
            extra |= set(terms(acronym)) | set(terms(phrase))
        return frozenset(have | extra)

    def support(self, claim: str, vocabularies: Iterable[frozenset[str]]) -> float:
        """The share of the claim's content stems found in the cited passages (1.0 for a
        claim with none)."""
        wanted = self.content_terms(claim)
        if not wanted:
            return 1.0
        have: set[str] = set().union(*vocabularies)
        found = sum(1 for t in wanted if self._found(t, have))
        return found / len(wanted)

    def _found(self, term: str, have: set[str]) -> bool:
        if term in have:
            return True
        if len(term) < self.prefix_min_chars:
            return False
        size = self.prefix_min_chars
        return any(len(h) >= size and (h.startswith(term) or term.startswith(h))
                   for h in have)


_TAG_LIKE = re.compile(r"[<‹]\s*/?\s*[A-Za-z][^<>\n]{0,80}>")
_PASSAGE_BREAK = re.compile(r"\n\s*\n|(?<=[.!?;:])\s+|\n(?=\s*[-*•–]\s)")


@lru_cache(maxsize=1)
def default_support_model() -> SupportModel:
    return SupportModel.from_data()


# ---- claims --------------------------------------------------------------------------------
@dataclass
class Claim:
    """One sentence or list item of the reply, with the passage numbers it cites."""

    text: str  # without markers, as it will be shown
    markers: list[int]
    line: int
    raw: str = ""

    @property
    def digits(self) -> bool:
        return bool(_NUMBER.search(_LIST_ENUMERATOR.sub("", self.text)))


def split_claims(reply: str) -> list[Claim]:
    """Sentences and list items of ``reply``, each with the markers written after it.

    Markers written after the full stop ("... euro. [1]") belong to the sentence before; a
    line holding only markers belongs to the line before.
    """
    reply = _TAGS.sub("", reply.replace("\r\n", "\n"))
    reply = _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), reply)
    claims: list[Claim] = []
    line_no = -1
    for line in reply.split("\n"):
        if not line.strip():
            continue
        if _MARKER.sub("", line).strip(" .;,") == "" and claims:
            claims[-1].markers += _markers(line)
            claims[-1].raw += "\n" + line
            continue
        line_no += 1
        for piece in _sentences(line):
            markers = _markers(piece)
            text = " ".join(_MARKER.sub(" ", piece).split())
            text = re.sub(r"\s+([.,;:!?…])", r"\1", text)
            if text.strip(" .;,"):
                claims.append(Claim(text, markers, line_no, piece))
            elif claims:
                claims[-1].markers += markers
    return claims


def _sentences(line: str) -> list[str]:
    abbreviations = _data()["abbreviations"]
    out, start = [], 0
    for match in _SENTENCE_BREAK.finditer(line):
        before = line[start:match.start()]
        last = before.split()[-1] if before.split() else ""
        if normalize(last).rstrip(".").lstrip("(«\"“") in abbreviations:
            continue
        out.append(line[start:match.start()])
        start = match.end()
    out.append(line[start:])
    return [s for s in out if s.strip()]


def _markers(text: str) -> list[int]:
    out: list[int] = []
    for group in _MARKER.findall(text):
        parts = re.split(r"\s*(?:,|;|\be\b)\s*", group)
        for part in parts:
            if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
                lo, hi = (int(x) for x in re.split(r"\s*[-–]\s*", part))
                if 0 < hi - lo < 10:
                    out.extend(range(lo, hi + 1))
                    continue
            for n in re.findall(r"\d+", part):
                out.append(int(n))
    return out


# ---- the check -----------------------------------------------------------------------------
@dataclass
class ClaimVerdict:
    claim: Claim
    keep: bool
    # "" | "no_citation" | "bad_citation" | "invented_number" | "unsupported" | "lead_in"
    # | "absence"
    reason: str = ""
    number: str = ""  # the number not found, for "invented_number"
    support: float | None = None  # share of content words the cited passages hold


@dataclass
class CheckResult:
    kept: list[Claim] = field(default_factory=list)
    dropped: list[Claim] = field(default_factory=list)
    invented: str | None = None  # the first number no cited passage holds
    says_no_answer: bool = False
    reasons: list[str] = field(default_factory=list)  # why each dropped claim was dropped

    @property
    def cited(self) -> list[Claim]:
        return [c for c in self.kept if c.markers]


class AnswerChecker:
    """Checks a reply against the numbered passages it was written from (1-based).
    ``support`` holds the support threshold and word lists (default: the data files)."""

    def __init__(self, passages: list[str], support: SupportModel | None = None) -> None:
        if not isinstance(passages, list) or not all(isinstance(p, str) for p in passages):
            raise ValueError(f"passages must be a list of strings, got {passages!r:.80}")
        if support is not None and not isinstance(support, SupportModel):
            raise ValueError(f"support must be a SupportModel, got {support!r:.80}")
        self.passages = passages
        self.support_model = support or default_support_model()
        citable = [self.support_model.citable(p) for p in passages]
        self._values = [number_values(p) for p in citable]
        self._vocabularies = [self.support_model.vocabulary(p) for p in citable]

    def support(self, claim: Claim) -> float:
        """The share of the claim's content words found in the passages it cites."""
        cited = [self._vocabularies[n - 1] for n in set(claim.markers)
                 if 1 <= n <= len(self.passages)]
        return self.support_model.support(_LIST_ENUMERATOR.sub("", claim.text), cited)

    def judge(self, claim: Claim) -> ClaimVerdict:
        """Keep, drop, or (an invented number) reject the whole answer."""
        if not claim.markers:
            if self.says_absent(claim.text) and not claim.digits:
                return ClaimVerdict(claim, True, "absence")
            if claim.text.rstrip().endswith(":") and not claim.digits \
                    and len(claim.text.split()) <= 20:
                return ClaimVerdict(claim, False, "lead_in")
            return ClaimVerdict(claim, False, "no_citation")
        if any(not 1 <= n <= len(self.passages) for n in claim.markers):
            return ClaimVerdict(claim, False, "bad_citation")
        held: set[Decimal | str] = set()
        for n in set(claim.markers):
            held |= self._values[n - 1]
        for raw, readings in numbers_in(_LIST_ENUMERATOR.sub("", claim.text)):
            if not readings & held:
                return ClaimVerdict(claim, False, "invented_number", raw)
        if self.says_absent(claim.text) and not claim.digits:
            return ClaimVerdict(claim, True, "absence")  # says what the passage lacks
        support = self.support(claim)
        if support < self.support_model.threshold:
            return ClaimVerdict(claim, False, "unsupported", support=support)
        return ClaimVerdict(claim, True, support=support)

    def check(self, reply: str) -> CheckResult:
        result = CheckResult()
        sieve = ClaimSieve(self, result)
        for claim in split_claims(reply):
            sieve.feed(claim)
            if result.invented is not None:
                return result
        sieve.close()
        result.says_no_answer = not result.cited and self.says_absent(reply)
        return result

    @staticmethod
    def says_absent(text: str) -> bool:
        norm = " ".join(normalize(text).split())
        return any(phrase in norm for phrase in _data()["no_answer"])


class ClaimSieve:
    """Claim by claim, what a reply keeps: the one rule shared by the whole-reply check and
    the streaming answerer. A lead-in line ("Ecco i servizi:") is kept only with the cited
    claim that follows it; an invented number sets ``result.invented`` (stop there)."""

    def __init__(self, checker: AnswerChecker, result: CheckResult) -> None:
        self.checker = checker
        self.result = result
        self.lead_in: Claim | None = None

    def feed(self, claim: Claim) -> list[Claim]:
        """The claims to show now (in order); empty when this one is held or dropped."""
        verdict = self.checker.judge(claim)
        if verdict.reason == "invented_number":
            self.result.invented = verdict.number
            self._drop(claim, verdict.reason)
            return []
        if verdict.reason == "lead_in":
            self.lead_in = claim
            return []
        if not verdict.keep:
            self._drop(claim, verdict.reason)
            return []
        shown = [claim]
        if self.lead_in is not None and verdict.reason != "absence":
            shown.insert(0, self.lead_in)
        self.lead_in = None
        self.result.kept.extend(shown)
        return shown

    def close(self) -> None:
        """A lead-in with nothing after it is dropped."""
        if self.lead_in is not None:
            self._drop(self.lead_in, "lead_in")
            self.lead_in = None

    def _drop(self, claim: Claim, reason: str) -> None:
        self.result.dropped.append(claim)
        self.result.reasons.append(reason)


def format_claim(claim: Claim) -> str:
    """A kept claim as shown: its text, then its markers ("... euro. [1][3]")."""
    seen: list[int] = []
    for n in claim.markers:
        if n not in seen:
            seen.append(n)
    markers = "".join(f"[{n}]" for n in seen)
    return f"{claim.text} {markers}" if markers else claim.text


def join_claims(claims: Iterable[Claim]) -> str:
    """Claims of the same line joined by a space, lines by a newline."""
    out = ""
    last_line = None
    for claim in claims:
        if last_line is not None:
            out += " " if claim.line == last_line else "\n"
        out += format_claim(claim)
        last_line = claim.line
    return out


def separator(previous: Claim | None, claim: Claim) -> str:
    if previous is None:
        return ""
    return " " if claim.line == previous.line else "\n"
