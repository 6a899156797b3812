"""fakebbs._idle: what a connection must have sent before a worker takes it."""

from __future__ import annotations

import pytest

from fakebbs._idle import GATHER_BODY_BYTES, request_complete

HEAD = b"POST /v1/desired_lrp/desire.r2 HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"", False),
        (b"POST /v1/ping HTTP/1.1\r\nHost: x\r\n", False),  # half a head
        (b"POST /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n", True),  # no body
        (HEAD + b"Content-Length: 5\r\n\r\nabc", False),  # part of its body
        (HEAD + b"content-length:5\r\n\r\nabcde", True),
        (HEAD + b"Content-Length: 0\r\n\r\n", True),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", True),  # its worker reads chunks
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
