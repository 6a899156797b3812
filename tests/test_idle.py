"""fakebbs._http.idle: what a connection must have sent before a worker takes it, and the one
writer of every event stream."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import cast

import pytest

from fakebbs._http.events import EventStream
from fakebbs._http.idle import GATHER_BODY_BYTES, StreamWriter, request_complete

HEAD = b"POST /v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: x\r\n"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"", False),
        (b"POST /v1/ping HTTP/1.1\r\nHost: x\r\n", False),  # half a head
        (b"POST /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", True),  # no body
        (HEAD + b"Content-Length: 5\r\n\r\nabc", False),  # part of its body
        (HEAD + b"content-length:5\r\n\r\nabcde", True),
        (HEAD + b"Content-Length: 0\r\n\r\n", True),
        (CHUNKED, False),  # no chunk yet
        (CHUNKED + b"5\r\nhel", False),  # part of a chunk
        (CHUNKED + b"5;ext=1\r\nhello\r\n", False),  # no last chunk yet
        (CHUNKED + b"5\r\nhello\r\n0\r\n", False),  # the last chunk, not the empty line
        (CHUNKED + b"5\r\nhello\r\n0\r\n\r\n", True),
        (CHUNKED + b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n", False),  # trailers coming
        (CHUNKED + b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", True),
        (CHUNKED + b"zz\r\n", True),  # not a chunk size: the worker refuses it
        (CHUNKED + f"{GATHER_BODY_BYTES + 1:x}\r\n".encode(), True),  # too big a chunk
        (HEAD + b"Transfer-Encoding: gzip\r\n\r\n", True),  # the worker refuses it
        (HEAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n", True),  # waits for 100
        (HEAD + f"Content-Length: {GATHER_BODY_BYTES + 1}\r\n\r\n".encode(), True),  # too big
        (HEAD + b"Content-Length: -5\r\n\r\n", True),  # refused by the worker
        (HEAD + b"X-Content-Length: 5\r\n\r\n", True),  # not the header it looks like
    ],
)
def test_a_worker_takes_a_request_once_its_head_and_small_body_are_there(
    data: bytes, complete: bool
) -> None:
    assert request_complete(data) is complete


def test_a_head_that_never_ends_goes_to_a_worker_to_be_refused() -> None:
    assert request_complete(b"GET / HTTP/1.1\r\nX: " + b"x" * (1024 * 1024 + 1))


def test_chunks_past_the_gathered_size_go_to_a_worker_to_read_the_rest() -> None:
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
    within = CHUNKED + chunk * (GATHER_BODY_BYTES // len(chunk))

    assert not request_complete(within)
    assert request_complete(within + chunk * 2)


class Events:
    """A stream of the given events, then (``endless``) 1 KiB events for ever."""

    def __init__(self, events: list[bytes], *, endless: bool = False) -> None:
        self.events = list(events)
        self.endless = endless
        self.closed = threading.Event()

    def poll(self, timeout: float) -> bytes | None:
        if self.events:
            return self.events.pop(0)
        return b"x" * 1024 if self.endless else b""

    def watch(self, callback: Callable[[], object]) -> None:
        callback()

    def close(self) -> None:
        self.closed.set()


def received(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_the_writer_sends_events_as_chunks_and_ends_the_answer_after_the_limit() -> None:
    writer = StreamWriter()
    ours, theirs = socket.socketpair()
    stream = Events([b"a", b"bc", b"never sent"])
    with theirs:
        theirs.settimeout(10)
        writer.add(cast(EventStream, stream), ours, chunked=True, limit=2)
        assert received(theirs) == b"1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"
    assert stream.closed.wait(10)
    writer.stop(1)


def test_a_subscriber_that_reads_nothing_is_disconnected_after_the_timeout() -> None:
    writer = StreamWriter(timeout=0.2)
    ours, theirs = socket.socketpair()
    stream = Events([], endless=True)
    with theirs:
        writer.add(cast(EventStream, stream), ours, chunked=False, limit=-1)
        assert stream.closed.wait(10)
        assert writer.streams == 0
    writer.stop(1)


def test_the_writer_notices_a_subscriber_that_went_away() -> None:
    writer = StreamWriter()
    ours, theirs = socket.socketpair()
    stream = Events([])
    writer.add(cast(EventStream, stream), ours, chunked=True, limit=-1)
    theirs.close()
    assert stream.closed.wait(10)
    writer.stop(1)
