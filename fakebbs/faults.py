"""Transport faults to inject with ``FakeBBS.fail``: what a network, a router or a broken BBS
does to a request, as opposed to a BBS error (``fakebbs.errors``), which the BBS answers inside
a 200 response.

>>> bbs.fail("ActualLRPs", faults.reset_connection(), times=3)   # doctest: +SKIP
>>> bbs.fail("DesireDesiredLRP", faults.not_found())             # doctest: +SKIP

Served on a socket, ``close_connection``, ``reset_connection`` and ``truncated_body`` act on the
connection itself. Called in-process (no socket), they raise in the caller what a socket client
sees: ``http.client.RemoteDisconnected``, ``ConnectionResetError`` and
``http.client.IncompleteRead``. ``end_stream`` applies to event stream routes only; every other
fault to request/response routes only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "Fault",
    "bad_body",
    "close_connection",
    "delay",
    "end_stream",
    "not_found",
    "reset_connection",
    "router_error",
    "status",
    "truncated_body",
]


@dataclass(frozen=True)
class Fault:
    """One transport fault. Build them with this module's functions.

    ``kind`` names it; ``seconds`` is a delay; ``status``/``body``/``headers`` a plain-text
    answer; ``after`` the events an ended stream still sends.
    """

    kind: str
    seconds: float = 0.0
    status: int = 0
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    after: int = 0

    @property
    def for_streams(self) -> bool:
        """Whether this fault acts on event streams (and only on them)."""
        return self.kind == "end_stream"

    def __str__(self) -> str:
        if self.kind == "delay":
            return f"delay({self.seconds:g})"
        if self.kind == "status":
            return f"status({self.status})"
        if self.kind == "end_stream":
            return f"end_stream(after={self.after})"
        return f"{self.kind}()"


def delay(seconds: float) -> Fault:
    """Answer normally, ``seconds`` late (the request runs after the delay)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"delay needs a finite number of seconds >= 0, got {seconds!r}")
    return Fault("delay", seconds=float(seconds))


def close_connection() -> Fault:
    """Close the connection without answering (the request is not run)."""
    return Fault("close_connection")


def reset_connection() -> Fault:
    """Reset the connection (TCP RST) without answering (the request is not run)."""
    return Fault("reset_connection")


def truncated_body() -> Fault:
    """Run the request, then send the status line, headers and only half of the body, and
    close: the client reads fewer bytes than Content-Length announced."""
    return Fault("truncated_body")


def bad_body() -> Fault:
    """Answer 200 ``application/x-protobuf`` with bytes that are not the route's message (the
    request is not run): a client fails to decode them."""
    return Fault("bad_body", body="\x0a\x05fake")  # a length-delimited field cut short


def status(code: int, body: str = "", *, headers: dict[str, str] | None = None) -> Fault:
    """Answer a plain-text HTTP ``code`` (the request is not run), as a router or a broken
    server does; ``body`` defaults to the status line's reason."""
    if not 100 <= code <= 599 or code == 200:
        raise ValueError(f"status needs an HTTP status code other than 200, got {code!r}")
    given = tuple((headers or {}).items())
    for name, value in given:
        _check_header(name, value)
    return Fault("status", status=code, body=body, headers=given)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field-name
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # no CR, LF, NUL or other controls
_FRAMING = ("content-length", "transfer-encoding")


def _check_header(name: object, value: object) -> None:
    """A header a fault may answer with: a valid HTTP field name and value, and not one that
    frames the body (the server sets those from the body it sends; a wrong one would corrupt
    the keep-alive connection for the requests after it)."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(f"status: {name!r} is not an HTTP header name")
    if name.lower() in _FRAMING:
        raise ValueError(f"status: the {name} header is set by the server from the body")
    if not isinstance(value, str) or not _FIELD_VALUE.fullmatch(value):
        raise ValueError(f"status: header {name}: {value!r} is not an HTTP header value")


def not_found() -> Fault:
    """A plain 404, as a BBS that lacks the route answers: the Go client then falls back to an
    older revision where it has one (``EndpointNotFound``)."""
    return status(404, "404 page not found\n")


def router_error(message: str = "unknown_route") -> Fault:
    """A 502 with ``X-Cf-Routererror``, as the Cloud Foundry router answers when it cannot
    reach the BBS: the Go client returns a RouterError with that header's value."""
    return status(502, "502 Bad Gateway\n", headers={"X-Cf-Routererror": message})


def end_stream(after: int = 0) -> Fault:
    """On an event stream route: end the stream after ``after`` events (0: at once, right
    after the headers), as a BBS that restarts does."""
    if after < 0:
        raise ValueError(f"end_stream needs after >= 0, got {after!r}")
    return Fault("end_stream", after=after)
