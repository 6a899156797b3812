"""``fakebbs record``: a recording proxy in front of a real BBS.

Clients point at the proxy as at their BBS. It forwards every request unchanged (method, path,
query, body and headers, but the hop-by-hop ones) to the BBS, answers with the BBS's answer,
and writes a recording (``fakebbs._fidelity.recording``'s format) that ``fakebbs replay`` replays
against a fake: each call with its normalized answer, and the events that the event streams
passing through it carried after it.

Calls are forwarded one at a time, in the order they arrive, so the recording's order is the
order the BBS handled them; after each call the proxy waits ``settle`` seconds for that call's
events (the real BBS emits them from goroutines) before it forwards the next. An event is
recorded as the step's that was answered last when it arrived. Event streams are relayed as
they come, each recorded with the step at which it was opened (``opened_at``) and closed
(``closed_at``), so the replay opens and closes it at the same points.

The recording's one sequence has no tag (a user's guids are kept as they are, and no row is
filtered out); the header lists the BBS's cells as ``/v1/cells/list.r1`` answered when the
proxy started, which the replay registers on the fake. Start from an empty BBS: the replay
starts from an empty fake. Calls to reps and to the auctioneer do not pass through the proxy
and are not recorded.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from fakebbs import models
from fakebbs._fidelity.recording import FORMAT, NORMALIZATION, Normalizer, route_of, save_recording
from fakebbs._fidelity.replay_transport import Connection
from fakebbs._http.server import Server
from fakebbs._http.transport import Subscriber
from fakebbs._rules.wire import PROTOBUF
from fakebbs.routes import EVENT_TYPES

if TYPE_CHECKING:
    import os

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["DEFAULT_SETTLE", "Recorder"]

DEFAULT_SETTLE = 0.1
"""Seconds the proxy waits after each call for its events before forwarding the next."""

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)

logger = logging.getLogger("fakebbs.record")


class Recorder:
    """The recording proxy: ``serve()`` it, send it traffic, ``stop()`` it (the recording is
    written to ``out`` then, and by ``save()`` at any time).

    ``upstream`` is the BBS's URL; ``upstream_tls`` the client context for it (mutual TLS: a
    CA and a client certificate); ``server_tls`` the proxy's own server context (mutual TLS
    towards its clients, as the BBS's).
    """

    def __init__(
        self,
        upstream: str,
        out: str | os.PathLike[str],
        *,
        upstream_tls: ssl.SSLContext | None = None,
        server_tls: ssl.SSLContext | None = None,
        settle: float = DEFAULT_SETTLE,
        timeout: float = 30.0,
    ) -> None:
        self.upstream_url = upstream
        self.out = out
        self.settle = settle
        self.server_tls = server_tls
        try:
            self._upstream = Connection(upstream, upstream_tls, timeout)
        except ValueError:
            raise ValueError(f"--upstream must be an http(s) URL, not {upstream!r}") from None
        self._calling = threading.Lock()  # one call at a time, with its settle time
        self._lock = threading.Lock()  # guards the recording
        self._normalizer: Normalizer | None = None
        self._steps: list[dict[str, Any]] = []
        self._streams: dict[str, dict[str, Any]] = {}
        self._open_streams: dict[str, tuple[http.client.HTTPConnection, Subscriber]] = {}
        self._header: dict[str, Any] = {}
        self._server: Server | None = None

    @property
    def calls(self) -> int:
        """How many calls have been recorded."""
        return len(self._steps)

    # -- lifecycle ---------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Server:
        """Read the BBS's cells, then serve the proxy from background threads."""
        self._header = self._start_header()
        self._server = Server(
            self, host, port, ssl_context=self.server_tls, on_stop=self._end_streams
        )
        self._server.start()
        return self._server

    def stop(self) -> None:
        """Stop serving, end the relayed streams, and write the recording."""
        if self._server is not None:
            self._server.stop()
        self._upstream.close()
        self.save()

    def save(self) -> None:
        """Write what has been recorded so far to ``out``."""
        with self._lock:
            recording = self.recording()
        save_recording(recording, self.out)

    def recording(self) -> dict[str, Any]:
        """The recording so far (call under the lock, or after ``stop``)."""
        steps = [dict(step, events=dict(step["events"])) for step in self._steps]
        return dict(
            self._header,
            streams={name: dict(spec) for name, spec in self._streams.items()},
            parts={
                "recorded": dict(self._header["parts"]["recorded"], streams=sorted(self._streams))
            },
            sequences=[{"name": "recorded", "tag": None, "part": "recorded", "steps": steps}],
        )

    def _start_header(self) -> dict[str, Any]:
        status, _, data = self._upstream.forward(
            "POST", "/v1/cells/list.r1", b"", {"Content-Type": PROTOBUF}
        )
        cells = models.CellsResponse()
        if status == 200:
            cells.ParseFromString(data)
        presences = [
            json_format.MessageToDict(c, preserving_proto_field_name=True) for c in cells.cells
        ]
        cell_ids = sorted(c.cell_id for c in cells.cells)
        self._normalizer = Normalizer(None, frozenset(cell_ids))
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
        return {
            "format": FORMAT,
            "description": "Calls made through 'fakebbs record' to a BBS, with its normalized "
            "answers and the events of the streams that passed through; 'fakebbs replay' "
            "replays it against a fake.",
            "recorded": now,
            "upstream": {"url": self.upstream_url},
            "normalization": NORMALIZATION,
            "not_covered": ["calls the BBS made to reps and the auctioneer"],
            "cell_presences": presences,
            "cell_ids": cell_ids,
            "event_messages": {name: cls.__name__ for name, cls in EVENT_TYPES.items()},
            "parts": {"recorded": {"recorded": now, "cell_ids": cell_ids}},
        }

    def _end_streams(self) -> None:
        with self._lock:
            connections = [conn for conn, _ in self._open_streams.values()]
        for conn in connections:
            _shut(conn)

    def _close_abandoned_streams(self) -> None:
        """Before a call: a stream whose client has gone was closed before it (an idle relay
        would notice only at its next event)."""
        with self._lock:
            for name, (conn, client) in list(self._open_streams.items()):
                if client.gone():
                    self._streams[name].setdefault("closed_at", len(self._steps))
                    del self._open_streams[name]
                    _shut(conn)

    # -- the WSGI app ------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        target = urllib.parse.quote(path) + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""
        )
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = _request_headers(environ)
        route = route_of(method, path)
        if route is not None and route.stream:
            return self._relay_stream(environ, method, target, body, headers, start_response)
        with self._calling:
            self._close_abandoned_streams()
            with self._lock:  # before the call: the BBS may emit its events before it answers
                step = self._new_step(method, target, body)
            try:
                status, answer_headers, data = self._upstream.forward(method, target, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self._steps.remove(step)
                logger.warning("the BBS did not answer %s %s: %s", method, target, exc)
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [f"fakebbs record: the BBS did not answer: {exc}\n".encode()]
            content_type = next((v for k, v in answer_headers if k.lower() == "content-type"), "")
            with self._lock:
                assert self._normalizer is not None
                step["answer"] = self._normalizer.answer(
                    status, content_type, data, step["response_message"]
                )
            if self.settle > 0:
                time.sleep(self.settle)  # the streams record this call's late events meanwhile
        start_response(_status_line(status), _answer_headers(answer_headers))
        return [data]

    def _new_step(self, method: str, target: str, body: bytes) -> dict[str, Any]:
        """Record a call about to be forwarded; its answer is filled in when it comes."""
        route = route_of(method, target)
        step: dict[str, Any] = {
            "call": route.name if route is not None else f"{method} {target}",
            "method": method,
            "path": target,
            "request": base64.b64encode(body).decode("ascii"),
            "request_message": route.request if route is not None else None,
            "response_message": route.response if route is not None else None,
            "answer": None,
            "events": {},
        }
        self._steps.append(step)
        return step

    def _relay_stream(
        self,
        environ: WSGIEnvironment,
        method: str,
        target: str,
        body: bytes,
        headers: dict[str, str],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        conn = self._upstream.open(timeout=None)
        try:
            conn.request(
                method, target, body=body if body or method == "POST" else None, headers=headers
            )
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [f"fakebbs record: the BBS did not answer: {exc}\n".encode()]
        if response.status != 200:
            data = response.read()
            conn.close()
            start_response(_status_line(response.status), _answer_headers(response.getheaders()))
            return [data]
        with self._lock:
            name = f"stream-{len(self._streams) + 1}"
            spec: dict[str, Any] = {"method": method, "path": target, "opened_at": len(self._steps)}
            if body:
                spec["body"] = base64.b64encode(body).decode("ascii")
            self._streams[name] = spec
            self._open_streams[name] = (conn, Subscriber(environ))
        write = start_response("200 OK", _answer_headers(response.getheaders()))
        write(b"")  # WSGI: the first write sends the headers; the client waits for them
        return self._relay(name, conn, response)

    def _relay(
        self, name: str, conn: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> Iterator[bytes]:
        """Relay the stream line by line, recording each event as it passes."""
        event, data = "", list[str]()
        try:
            while True:
                try:
                    line = response.readline()
                except (OSError, ValueError, http.client.HTTPException):
                    break
                if not line:
                    break
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if not text:
                    if data:
                        self._record_event(name, event or "message", "".join(data))
                    event, data = "", []
                elif text.startswith("event:"):
                    event = text[6:].strip()
                elif text.startswith("data:"):
                    data.append(text[5:].strip())
                yield line
        finally:
            with self._lock:
                self._open_streams.pop(name, None)
                self._streams[name].setdefault("closed_at", len(self._steps))
            conn.close()

    def _record_event(self, stream: str, name: str, data: str) -> None:
        assert self._normalizer is not None
        with self._lock:
            if not self._steps:
                return  # nothing called yet: nothing a replay could compare it with
            event = self._normalizer.event(name, data)
            if event is not None:
                self._steps[-1]["events"].setdefault(stream, []).append(event)


def _shut(conn: http.client.HTTPConnection) -> None:
    """End a relayed stream's upstream connection under its reader."""
    try:
        if conn.sock is not None:
            conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            if name.lower() not in _HOP_BY_HOP:
                headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def _answer_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]


def _status_line(status: int) -> str:
    reason = http.client.responses.get(status, "Unknown")
    return f"{status} {reason}"
