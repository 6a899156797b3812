"""Ordinary requests skip werkzeug's ``Request`` (for speed); the answer and the journal must
not tell: every case here is answered alike with the shortcut on and off."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs._http.app import BBSApp

DESIRE = models.DesireLRPRequest(desired_lrp=desired_lrp("g")).SerializeToString()


class BrokenBody(io.RawIOBase):
    """A body the server cannot read (cheroot raises ValueError on broken chunking)."""

    def read(self, size: int = -1) -> bytes:
        raise ValueError("Malformed chunked request body: boom")

    def readinto(self, buffer: Any) -> int:
        raise ValueError("Malformed chunked request body: boom")


def environ(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    length: str | None = None,
    stream: io.RawIOBase | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/x-protobuf",
        "CONTENT_LENGTH": str(len(body)) if length is None else length,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": stream or io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **(extra or {}),
    }


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "ping": lambda: environ("POST", "/v1/ping"),
    "no Content-Length": lambda: environ("POST", "/v1/ping", length=""),
    "desire with a trace id": lambda: environ(
        "POST", "/v1/desired_lrp/desire.r2", DESIRE, extra={"HTTP_X_VCAP_REQUEST_ID": "trace-1"}
    ),
    "an undecodable body": lambda: environ("POST", "/v1/desired_lrp/desire.r2", b"\xff\xff"),
    "a body shorter than its length": lambda: environ(
        "POST", "/v1/desired_lrp/desire.r2", DESIRE[:10], length=str(len(DESIRE))
    ),
    "a body the server cannot read": lambda: environ(
        "POST", "/v1/desired_lrp/desire.r2", length="50", stream=BrokenBody()
    ),
    "a body over the limit": lambda: environ("POST", "/v1/desired_lrp/desire.r2", length="1" * 12),
    "a length that is not a number": lambda: environ("POST", "/v1/ping", length="²"),
    "a lower-case method": lambda: environ("post", "/v1/ping"),
    "another method": lambda: environ("GET", "/v1/ping"),
    "an unknown path": lambda: environ("POST", "/v1/nope"),
    "a chunked body": lambda: environ(
        "POST",
        "/v1/desired_lrp/desire.r2",
        DESIRE,
        length="",
        extra={"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True},
    ),
}


def answer(case: str) -> tuple[list[Any], bytes, list[tuple[Any, ...]]]:
    fake = FakeBBS(new_guid=lambda: "guid", clock=lambda: 1)
    started: list[Any] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    body = b"".join(fake.wsgi_app(CASES[case](), start_response))
    calls = [
        (c.route, c.path, c.method, c.trace_id, c.status, c.request, c.response, c.error)
        for c in fake.calls
    ]
    return started, body, calls


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_shortcut_answers_and_journals_as_werkzeug_does(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shortcut = answer(case)
    monkeypatch.setattr(BBSApp, "_plain_request", lambda self, environ: None)
    through_werkzeug = answer(case)

    assert shortcut == through_werkzeug
    assert len(shortcut[2]) == 1  # journaled exactly once


def test_ordinary_requests_take_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[str] = []
    original = BBSApp._answer_plain

    def spy(self: BBSApp, route: Any, environ: Any, start_response: Any) -> Any:
        taken.append(route.name)
        return original(self, route, environ, start_response)

    monkeypatch.setattr(BBSApp, "_answer_plain", spy)
    answer("ping")
    answer("desire with a trace id")
    answer("a chunked body")

    assert taken == ["Ping", "DesireDesiredLRP"]
