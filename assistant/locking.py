"""One writer per index: a lock file in the index folder, held with ``fcntl.flock``.

An ingest holds the lock exclusively for its whole run; a second ingest (another thread,
another process: CLI or app) waits at most ``timeout`` seconds, then fails with
:class:`~assistant.errors.IndexBusyError`. Readers never wait: :meth:`IndexWriteLock.
reading` takes the lock shared without blocking and says whether a writer holds it, so a
question keeps the last consistent state while an ingest runs.

``flock`` locks belong to an open file, so two ingests of one process exclude each other
too; the kernel releases the lock when its holder dies (``kill -9``), so no stale lock is
ever left. It covers one machine: several machines writing one Chroma server need their
own coordination (docs/scale-out.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import IndexBusyError

LOCK_NAME = "write.lock"


class IndexWriteLock:
    """The write lock of the index folder ``index_dir``.

    ``timeout`` is how long :meth:`acquire` waits for another writer, polling every
    ``poll`` seconds; ``clock`` and ``sleep`` are seams for tests.
    """

    def __init__(self, index_dir: Path, timeout: float = 60.0, poll: float = 0.2,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        if poll <= 0:
            raise ValueError(f"poll must be > 0 seconds, got {poll!r}")
        self.path = Path(index_dir) / LOCK_NAME
        self.timeout = float(timeout)
        self.poll = float(poll)
        self._clock = clock
        self._sleep = sleep
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, waiting at most ``timeout`` seconds for another writer."""
        if self._fd is not None:
            raise RuntimeError("this IndexWriteLock is already held")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        started = self._clock()
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = self._clock() - started
                    if waited >= self.timeout:
                        raise IndexBusyError(
                            f"index {self.path.parent} is being written by another ingest",
                            index=str(self.path.parent), waited=f"{waited:.0f}",
                            holder=self.holder_text()) from None
                    self._sleep(min(self.poll, max(self.timeout - waited, 0.01)))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:  # who holds it, for the message another writer gets
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                      "since": time.strftime("%H:%M:%S")}).encode(), 0)
        except OSError:  # a full disk: the lock holds all the same
            pass

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no stale holder named in another writer's message
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "IndexWriteLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def holder(self) -> dict[str, Any]:
        """What the current holder wrote: ``pid``, ``host``, ``since`` (empty if unknown)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def holder_text(self) -> str:
        from . import messages

        info = self.holder()
        if {"pid", "host", "since"} <= set(info):
            return messages.text("index_holder", pid=info["pid"], host=info["host"],
                                 since=info["since"])
        return messages.text("index_holder_unknown")

    @contextlib.contextmanager
    def reading(self) -> Iterator[bool]:
        """Hold the lock shared while the index is read to build a new state: yields True
        when no writer holds it (a writer then waits until the block ends), False when one
        does (nothing is held; keep the state you have). Never blocks."""
        if self._fd is not None:
            raise RuntimeError("a writer cannot take its own lock to read")
        if not self.path.parent.is_dir():
            yield True  # no index folder yet: nobody writes it
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only index folder: no writer can be there either
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def busy(self) -> bool:
        """A writer holds the lock right now."""
        with self.reading() as free:
            return not free


__all__ = ["IndexWriteLock", "LOCK_NAME"]
