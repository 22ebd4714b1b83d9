"""The Italian prompt: system rules from ``data/prompt_it.txt``, numbered passages as data.

Every passage sits between ``<passaggio id="n" ...>`` and ``</passaggio>``; the question sits
between ``<domanda>`` and ``</domanda>``. Anything tag-like inside document text, titles or
the question (``</passaggio>``, ``<istruzioni>``, ``<|im_start|>``) loses its ``<`` so that a
document cannot close its own passage and speak as the system.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..datafiles import load_yaml, read_text
from ..expansion import Expansion
from ..retrieval import Hit

_TAG_OPEN = re.compile(r"<(?=\s*[/!?|]?\s*[A-Za-z|])")
_NEUTRAL = "‹"


def neutralise(text: str) -> str:
    """``text`` with every tag-like ``<`` replaced by ``‹`` (so "< 5 anni" stays as it is)."""
    return _TAG_OPEN.sub(_NEUTRAL, text)


def _attribute(text: str) -> str:
    return neutralise(" ".join(text.split())).replace('"', "'")


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    passages: tuple[str, ...]  # title, section and text of passage n at [n - 1] (for the check)

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system},
                {"role": "user", "content": self.user}]


class PromptBuilder:
    """Builds the chat messages for a question and its retrieved passages."""

    def __init__(self, system_file: str = "prompt_it.txt",
                 user_file: str = "prompt_user_it.txt", data_file: str = "llm_it.yaml") -> None:
        for name in (system_file, user_file, data_file):
            if not isinstance(name, str) or not name:
                raise ValueError(f"prompt file names must be non-empty strings, got {name!r}")
        self.system = read_text(system_file).strip()
        self.user_template = read_text(user_file)
        self.data: dict[str, Any] = load_yaml(data_file)  # templates, and the answerer's texts

    def passage(self, n: int, hit: Hit) -> str:
        chunk = hit.chunk
        where = ""
        if chunk.page:
            where += self.data["passage_page"].format(page=chunk.page)
        if chunk.section:
            where += self.data["passage_section"].format(section=_attribute(chunk.section))
        template: str = self.data["passage"]
        return template.format(n=n, title=_attribute(chunk.title), where=where,
                               text=neutralise(chunk.text.strip()))

    def build(self, question: str, hits: Sequence[Hit],
              expansions: Sequence[Expansion] = (), searched: str | None = None) -> Prompt:
        if not hits:
            raise ValueError("a prompt needs at least one passage, got no hits")
        passages = "\n\n".join(self.passage(i, hit) for i, hit in enumerate(hits, start=1))
        glossary = ""
        acronyms = [e for e in expansions if e.is_acronym and e.meaning]
        if acronyms:  # the other expansions are search aids, not definitions
            items = "; ".join(self.data["glossary_item"].format(term=_attribute(e.term),
                                                                meaning=_attribute(e.meaning))
                              for e in acronyms)
            glossary = self.data["glossary"].format(items=items)
        context = ""
        if searched and " ".join(searched.split()) != " ".join(question.split()):
            context = self.data["context"].format(searched=neutralise(searched))
        user = self.user_template.format(passages=passages, glossary=glossary,
                                         question=neutralise(question.strip()), context=context)
        return Prompt(self.system, user, tuple(
            "\n".join(filter(None, (h.chunk.title, h.chunk.section, h.chunk.text)))
            for h in hits))
