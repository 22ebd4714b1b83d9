"""Seconds per ingest stage of one file, for the report (``IngestReport.stage_seconds``)."""

from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterator


class StageTimes:
    """Seconds spent in each named stage ("parse", "clean_chunk", "embed", "store").

    Stages nest, and each second goes to the innermost stage open when it passed: a PDF's
    pages are chunked and sent to the embedder while it is read, so the chunking and
    embedding inside ``stage("parse")`` are booked to their own stages, not to parsing.
    ``clock`` is injected for tests (default ``time.perf_counter``).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = clock
        self._inner: list[float] = []  # per open stage: seconds booked to stages inside it

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Book the time inside the ``with`` block to ``name`` (less nested stages' time),
        also when the block raises."""
        started = self._clock()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = self._clock() - started
            inner = self._inner.pop()
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - inner
            if self._inner:
                self._inner[-1] += elapsed
