"""The request log is written from its own thread: a slow or unread stderr never stalls a
request, and nothing queued is lost at a clean stop."""

from __future__ import annotations

import http.client
import logging
import re
import signal
import subprocess
import sys
import threading

from fakebbs._standalone.log_writer import BackgroundHandler

TIMEOUT = 10.0


class Collecting(logging.Handler):
    """Keeps formatted lines; ``gate`` blocks every write until it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def emit(self, record: logging.LogRecord) -> None:
        self.gate.wait(TIMEOUT)
        self.lines.append(self.format(record))


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "test", "levelno": logging.INFO, "msg": message, "args": args}
    )


def test_records_are_written_in_order_and_close_writes_what_is_queued() -> None:
    target = Collecting()
    handler = BackgroundHandler(target)
    for n in range(100):
        handler.handle(record("line %d", n))
    handler.close()

    assert target.lines == [f"line {n}" for n in range(100)]
    assert handler.dropped == 0


def test_a_blocked_writer_never_blocks_the_logging_thread_and_drops_are_reported() -> None:
    target = Collecting()
    target.gate.clear()  # stderr nobody reads
    handler = BackgroundHandler(target, backlog=5)

    for n in range(50):  # returns at once although nothing can be written
        handler.handle(record("line %d", n))
    dropped = handler.dropped
    target.gate.set()
    handler.close()

    # one record was taken by the writer thread (blocked in the write), five were queued
    assert 44 <= dropped <= 45
    assert len(target.lines) == 50 - dropped + 1
    assert target.lines[-1] == f"{dropped} log lines were dropped: stderr was not read fast enough"


def test_fakebbs_serve_keeps_answering_while_nobody_reads_its_stderr() -> None:
    # Before the log was written in the background, the stderr pipe filled after about 700
    # request lines and every later request hung.
    proc = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "fakebbs", "serve", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        match = re.fullmatch(
            r"fakebbs listening on http://127\.0\.0\.1:(\d+)\n", proc.stdout.readline()
        )
        assert match
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=TIMEOUT)
        for _ in range(1500):
            conn.request("POST", "/v1/ping", body=b"")
            assert conn.getresponse().read() == b"\x08\x01"
        conn.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 0
    assert stderr.count("POST /v1/ping route=Ping namespace=default status=200 ") == 1500
    assert stderr.rstrip().endswith("SIGTERM received, stopping")
