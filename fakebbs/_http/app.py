"""The WSGI app: one request pipeline from the route table to the answer.

The stages, in order (``BBSApp.__call__``): match the route, read the body, decode it, consult
the fake's controls (holds, then faults), run the handler (prepare, validate, apply the rule),
encode, and record the call in the journal. The controls act in one place, after decoding, so
a fault or a hold can look at the decoded request, and every request is journaled exactly once
whatever answered it.

Transport as upstream (``handlers/handlers.go`` and the pat mux under rata): every handled
request is answered ``200 application/x-protobuf`` with any error inside the response message;
an unknown path is pat's plain-text 404; a known path with another method is a 405 with
``Allow``. Route matching is exact on the path (no trailing-slash or HEAD leniency, as pat),
which is why this is a dictionary of the route table rather than a werkzeug ``Map``.

Event stream routes (a handler made with ``_handlers._base.streaming``) are answered like
upstream's ``streamEventsToResponse``: 200 with the SSE headers, flushed before any event
exists (a subscriber's connect call waits for the status line), then one chunk per event until
the stream ends (server stop, a dropped slow subscriber) or the client goes away. Those
answers, and the ones that cut the transport short (faults), are in ``fakebbs._http.transport``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError, Message
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from fakebbs import models
from fakebbs._control.controls import FaultRule, Faults, Holds
from fakebbs._control.journal import Journal, call_weight, new_call
from fakebbs._http.encoded import Encoded, EncodedLists
from fakebbs._http.environ import (
    LOG_ENVIRON_KEY,
)
from fakebbs._http.events import EventHub
from fakebbs._http.handlers import HANDLERS, Context
from fakebbs._http.handlers._base import Handler, RefuseStream
from fakebbs._http.transport import Aborted, EventStreamResponse, ProtobufAnswer, Truncated
from fakebbs._rules.state import State
from fakebbs._rules.store import copy
from fakebbs._rules.validation import validate
from fakebbs._rules.wire import PROTOBUF, TRACE_HEADER
from fakebbs.errors import BBSError, InvalidRequest, UnknownError
from fakebbs.faults import Fault
from fakebbs.routes import ROUTES, Route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["BBSApp", "PROTOBUF", "DEFAULT_MAX_BODY_BYTES"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

log = logging.getLogger("fakebbs.app")

_TRACE_ENVIRON_KEY = "HTTP_" + TRACE_HEADER.upper().replace("-", "_")


@dataclass(slots=True)
class _Exchange:
    """One request on its way through the pipeline; becomes the journal's ``Call``."""

    method: str
    path: str
    trace_id: str
    time: float
    route: Route | None = None
    request: Message | None = None
    response: Message | Encoded[Any] | None = None
    error: BBSError | None = None
    fault: Fault | None = None
    status: int = 200
    decode_error: InvalidRequest | None = None
    namespace: str = ""
    fault_rule: FaultRule | None = None
    sent_size: int = -1  # the bytes of ``response`` as sent (-1: not serialized here)

    def outcome(self) -> str:
        """The result for the request log: ``ok``, the BBS error's type, ``fault:KIND``."""
        if self.fault is not None:
            return f"fault:{self.fault.kind}"
        if self.error is not None:
            return self.error.type_name
        return "ok" if self.route is not None and self.status == 200 else "-"

    def record(self, journal: Journal) -> None:
        """Record the exchange in ``journal`` as a ``Call``."""
        call = new_call(
            None if self.route is None else self.route.name,
            self.path,
            self.method,
            self.request,
            self.response,
            self.error,
            self.fault,
            self.trace_id,
            self.time,
            self.status,
            self.namespace,
            self.fault_rule,
        )
        journal.record(call, None if self.sent_size < 0 else call_weight(call, self.sent_size))


class BBSApp:
    """A WSGI app serving the BBS API over one ``State``.

    ``handlers`` maps route names to handlers (default: every route's); ``journal``, ``faults``
    and ``holds`` are the fake's controls (``FakeBBS`` passes its own; without them the app
    is the bare BBS). The real BBS reads any body size; a test fake should not be run out of
    memory by one, so bodies over ``max_body_bytes`` get a plain 413 instead. Exceptions that
    escape a handler (bugs in the fake) are answered 500 and kept in ``errors`` for tests to
    re-raise.
    ``events`` is the event hub streams subscribe to and ``lists`` the list cache list routes
    join their answers from: the fake's, which it registers as listeners of its store (the app
    registers nothing itself).
    ``namespace`` is the name journaled calls carry (see ``fakebbs serve``'s namespaces).
    """

    def __init__(
        self,
        state: State,
        *,
        events: EventHub,
        lists: EncodedLists,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        handlers: Mapping[str, Handler] | None = None,
        errors: list[BaseException] | None = None,
        journal: Journal | None = None,
        faults: Faults | None = None,
        holds: Holds | None = None,
        namespace: str = "",
    ) -> None:
        self.state = state
        self.namespace = namespace
        self.events = events
        self.lists = lists
        self.max_body_bytes = max_body_bytes
        self.handlers: dict[str, Handler] = dict(HANDLERS if handlers is None else handlers)
        self.errors: list[BaseException] = [] if errors is None else errors
        self.journal = journal
        self.faults = faults
        self.holds = holds
        self._errors_lock = threading.Lock()
        self._routes: dict[str, dict[str, Route]] = {}
        for route in ROUTES:
            self._routes.setdefault(route.path, {})[route.method] = route

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = self._plain_request(environ)
        if route is not None:
            return self._answer_plain(route, environ, start_response)
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        exchange = _Exchange(
            request.method,
            request.path,
            request.headers.get(TRACE_HEADER, ""),
            time.time(),
            namespace=self.namespace,
        )
        try:
            answer = self._answer(request, exchange)
        finally:
            self._finish(exchange, environ)
        return answer(environ, start_response)

    def _finish(self, exchange: _Exchange, environ: WSGIEnvironment) -> None:
        """Record the call in the journal, and note it for the server's request log."""
        if self.journal is not None:
            exchange.record(self.journal)
        note = environ.get(LOG_ENVIRON_KEY)
        if isinstance(note, list):  # filled in place: whoever copied the environ shares it
            note[:] = (
                "-" if exchange.route is None else exchange.route.name,
                self.namespace or "default",
                exchange.outcome(),
            )

    def _plain_request(self, environ: WSGIEnvironment) -> Route | None:
        """The route of an ordinary request (an exact path and method of the table, a body of
        a stated length within the limit), or None for anything werkzeug should look at."""
        methods = self._routes.get(environ.get("PATH_INFO", ""))
        if methods is None or "HTTP_TRANSFER_ENCODING" in environ:
            return None
        length = environ.get("CONTENT_LENGTH") or ""
        if not length:  # no length: none, or a body that ends with the stream (werkzeug's)
            if environ.get("wsgi.input_terminated"):
                return None
            length = "0"
        if not (length.isascii() and length.isdigit()) or int(length) > self.max_body_bytes:
            return None
        return methods.get(environ.get("REQUEST_METHOD", ""))

    def _answer_plain(
        self, route: Route, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """``__call__`` for a request ``_plain_request`` accepted: the same answer, without
        building a werkzeug ``Request`` (that took about a third of a ping's time)."""
        exchange = _Exchange(
            route.method,
            route.path,
            environ.get(_TRACE_ENVIRON_KEY, ""),
            time.time(),
            route,
            namespace=self.namespace,
        )
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                try:
                    body = environ["wsgi.input"].read(length) if length else b""
                except (OSError, ValueError):
                    body = b""  # werkzeug's stream takes these for a client gone away
                if len(body) < length:
                    raise ClientDisconnected()  # and says it so
            except HTTPException as exc:
                answer: WSGIApplication = _text(exchange, exc.code or 400, f"{exc.description}\n")
            except Exception as exc:  # noqa: BLE001 - a body cut short surfaces as anything
                answer = _text(exchange, 400, f"malformed request body: {exc}\n")
            else:
                answer = self.handle(route, body, exchange)
        finally:
            self._finish(exchange, environ)
        return answer(environ, start_response)

    # -- the stages ------------------------------------------------------------------------

    def _answer(self, request: Request, exchange: _Exchange) -> WSGIApplication:
        methods = self._routes.get(request.path)
        if methods is None:
            return _text(exchange, 404, "404 page not found\n")
        route = methods.get(request.method)
        if route is None:
            response = _text(exchange, 405, "Method Not Allowed\n")
            response.headers["Allow"] = ", ".join(sorted(methods))
            return response
        exchange.route = route
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _text(exchange, 413, f"request body larger than {self.max_body_bytes} bytes\n")
        except HTTPException as exc:
            return _text(exchange, exc.code or 400, f"{exc.description}\n")
        except Exception as exc:  # noqa: BLE001 - a broken chunked body surfaces as anything
            return _text(exchange, 400, f"malformed request body: {exc}\n")
        return self.handle(route, body, exchange)

    def handle(
        self, route: Route, body: bytes, exchange: _Exchange | None = None
    ) -> WSGIApplication:
        """Answer one request for ``route`` whose body has been read."""
        if exchange is None:
            exchange = _Exchange(
                route.method, route.path, "", time.time(), route, namespace=self.namespace
            )
        handler = self.handlers.get(route.name)
        try:
            exchange.request = _decode(route, body)
        except InvalidRequest as error:
            exchange.decode_error = error
        override = self._control(route, exchange)
        if isinstance(override, BBSError):
            return _protobuf(exchange, _error_response(route, override, exchange))
        if isinstance(override, Fault):
            exchange.fault = override
            if override.kind != "delay":
                return self._fault(route, handler, body, exchange, override)
            time.sleep(override.seconds)
        if handler is None:
            message = f"fakebbs: {route.path} ({route.name}) is not implemented yet"
            if route.response is None:
                return _text(exchange, 501, message + "\n")
            return _protobuf(exchange, _error_response(route, UnknownError(message), exchange))
        if handler.stream is not None:
            return self._open_stream(route, handler, body, exchange)
        return self._run(route, handler, body, exchange)

    def _control(self, route: Route, exchange: _Exchange) -> BBSError | Fault | None:
        """The control point: hold the request while its route is held, then pick the fault
        or BBS error a rule injects (None: answer normally)."""
        if self.holds is not None:
            self.holds.wait(route, exchange.request)
        if self.faults is None:
            return None
        exchange.fault_rule = self.faults.take_rule(route, exchange.request)
        return None if exchange.fault_rule is None else exchange.fault_rule.action

    def _run(
        self,
        route: Route,
        handler: Handler,
        body: bytes,
        exchange: _Exchange,
    ) -> Response | ProtobufAnswer:
        request = exchange.request
        parsed = False
        try:
            if exchange.decode_error is not None:
                raise exchange.decode_error
            if handler.prepare is not None and request is not None:
                # prepare rewrites the request in place; the journal keeps what was sent
                request = copy(request)
                handler.prepare(request, body)
            if request is not None:
                validate(request, require_metric_tags=handler.require_metric_tags)
            parsed = True
            response = handler.run(
                self.state, request, Context(route, exchange.trace_id, body, self.lists)
            )
        except BBSError as error:
            response = _error_response(route, error, exchange)
            if not parsed and handler.on_bad_request is not None:
                handler.on_bad_request(response)
        except Exception as exc:  # noqa: BLE001 - a handler bug: a logged, recorded 500
            return self._internal_error(route, exchange, exc)
        exchange.response = response
        return _protobuf(exchange, response)

    def _open_stream(
        self, route: Route, handler: Handler, body: bytes, exchange: _Exchange, limit: int = -1
    ) -> WSGIApplication:
        """Subscribe now (events from here on are the stream's), answer with the stream;
        ``limit`` ends it after that many events (-1: no limit)."""
        assert handler.stream is not None
        try:
            stream = handler.stream(
                self.events, exchange.request, Context(route, exchange.trace_id, body, self.lists)
            )
        except RefuseStream:
            exchange.status = 500
            return _empty(500)
        except Exception as exc:  # noqa: BLE001 - likewise for a stream that fails to open
            return self._internal_error(route, exchange, exc)
        return EventStreamResponse(stream, limit)

    def _fault(
        self,
        route: Route,
        handler: Handler | None,
        body: bytes,
        exchange: _Exchange,
        fault: Fault,
    ) -> WSGIApplication:
        """Answer with a transport fault (a delay is not one: it only waits) instead of the
        normal answer, or around it for truncation and the end of a stream."""
        if fault.kind == "end_stream":
            assert handler is not None
            return self._open_stream(route, handler, body, exchange, limit=fault.after)
        if fault.kind == "status":
            response = _text(exchange, fault.status, fault.body or _reason_line(fault.status))
            for name, value in fault.headers:
                response.headers[name] = value
            return response
        if fault.kind == "bad_body":
            return Response(fault.body.encode("latin-1"), 200, content_type=PROTOBUF)
        if fault.kind == "truncated_body":
            assert handler is not None
            answer = self._run(route, handler, body, exchange)
            return Truncated(answer.get_data())
        exchange.status = 0
        return Aborted(reset=fault.kind == "reset_connection")

    def _internal_error(self, route: Route, exchange: _Exchange, exc: Exception) -> Response:
        log.exception("fakebbs: handler for %s failed", route.name)
        with self._errors_lock:
            self.errors.append(exc)
        return _text(exchange, 500, f"fakebbs: internal error in {route.name}: {exc!r}\n")


def _decode(route: Route, body: bytes) -> Message | None:
    """``parseRequest``: an undecodable body is an InvalidRequest with upstream's text."""
    if route.request is None:
        return None
    message: Message = getattr(models, route.request)()
    try:
        message.ParseFromString(body)
    except DecodeError:
        raise InvalidRequest() from None
    return message


def _error_response(route: Route, error: BBSError, exchange: _Exchange) -> Message:
    assert route.response is not None
    response: Message = getattr(models, route.response)()
    response.error.CopyFrom(error.to_wire())  # type: ignore[attr-defined]
    exchange.error = error
    exchange.response = response
    return response


def _protobuf(exchange: _Exchange, message: Message | Encoded[Any]) -> ProtobufAnswer:
    exchange.response = message
    if isinstance(message, Encoded):
        data = message.data
    else:
        data = message.SerializeToString(deterministic=True)
    exchange.sent_size = len(data)
    return ProtobufAnswer(data)


def _reason_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}\n"
    except ValueError:
        return f"{status}\n"


def _empty(status: int) -> Response:
    """A bodiless answer as Go's ``w.WriteHeader(status)`` sends it: no Content-Type."""
    response = Response(b"", f"{status} {HTTPStatus(status).phrase}")
    del response.headers["Content-Type"]
    return response


def _text(exchange: _Exchange, status: int, body: str) -> Response:
    """A plain-text answer as Go's ``http.Error`` sends it (Go's reason phrase, too)."""
    exchange.status = status
    try:
        line = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a status code http.HTTPStatus does not know (a fault may use any)
        line = str(status)
    response = Response(body, line, content_type="text/plain; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
