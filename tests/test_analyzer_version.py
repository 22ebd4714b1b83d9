"""Saved indexes hold stems and the acronyms found in documents; they are rebuilt when
``text.ANALYZER_VERSION`` changes. This pins what the analyzer gives on a few texts, so that
a change to ``terms()`` or ``acronyms_defined_in()`` without a version bump fails here
rather than leaving users' indexes stale after an upgrade."""

import json
from pathlib import Path

from assistant.expansion import acronyms_defined_in
from assistant.text import ANALYZER_VERSION, terms

GOLDEN = Path(__file__).parent / "data" / "analyzer_golden.json"


def test_the_analyzer_gives_what_its_version_recorded():
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert recorded["analyzer"] == ANALYZER_VERSION, (
        "ANALYZER_VERSION changed: record tests/data/analyzer_golden.json again with it")
    for case in recorded["cases"]:
        got = {"terms": terms(case["text"]), "acronyms": acronyms_defined_in(case["text"])}
        assert got == {"terms": case["terms"], "acronyms": case["acronyms"]}, (
            "the analyzer's output changed: bump text.ANALYZER_VERSION (saved indexes are "
            f"then rebuilt) and record {GOLDEN.name} again\n{case['text']}")
