"""A logging handler that writes from its own thread, so a request never waits for stderr.

``fakebbs serve`` logs one line per request. Written in the request's thread, that line costs
the request a write to stderr, and when nobody reads stderr (a test harness that pipes it and
reads it only at the end) the pipe fills after a few hundred lines and every request then
blocks for good. Here a request only queues its record; a writer thread formats and writes.
When the backlog is full the newest records are dropped and counted instead of waiting, and
``close()`` writes what is queued (waiting a bounded time for a reader that never comes).
"""

from __future__ import annotations

import logging
import queue
import threading

__all__ = ["BackgroundHandler"]

DEFAULT_BACKLOG = 10_000
"""Records queued before new ones are dropped."""

_CLOSE_WAIT = 2.0  # seconds close() waits for the queue to be written


class BackgroundHandler(logging.Handler):
    """Hand records to ``target`` from a daemon thread; never block the logging thread."""

    def __init__(self, target: logging.Handler, backlog: int = DEFAULT_BACKLOG) -> None:
        super().__init__()
        self.target = target
        self.dropped = 0
        """Records dropped because the backlog was full."""
        self._queue: queue.Queue[logging.LogRecord | None] = queue.Queue(backlog)
        self._writer = threading.Thread(target=self._write, name="fakebbs-log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Write what is queued (for at most a couple of seconds), then say what was dropped."""
        try:
            self._queue.put(None, timeout=_CLOSE_WAIT)
        except queue.Full:
            pass
        self._writer.join(_CLOSE_WAIT)
        if self.dropped and not self._writer.is_alive():
            self.target.handle(
                logging.makeLogRecord(
                    {
                        "name": "fakebbs.cli",
                        "levelno": logging.WARNING,
                        "levelname": "WARNING",
                        "msg": "%d log lines were dropped: stderr was not read fast enough",
                        "args": (self.dropped,),
                    }
                )
            )
        self.target.flush()
        super().close()

    def _write(self) -> None:
        while (record := self._queue.get()) is not None:
            self.target.handle(record)
