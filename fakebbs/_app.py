"""The WSGI app: match the route, read and decode the body, validate, run the handler, encode.

Transport as upstream (``handlers/handlers.go`` and the pat mux under rata): every handled
request is answered ``200 application/x-protobuf`` with any error inside the response message;
an unknown path is pat's plain-text 404; a known path with another method is a 405 with
``Allow``. Route matching is exact on the path (no trailing-slash or HEAD leniency, as pat),
which is why this is a dictionary of the route table rather than a werkzeug ``Map``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError, Message
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from fakebbs import models
from fakebbs._handlers import HANDLERS, Call
from fakebbs._state import State
from fakebbs._validation import validate
from fakebbs.errors import BBSError, InvalidRequest, UnknownError
from fakebbs.routes import ROUTES, Route

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["BBSApp", "PROTOBUF", "DEFAULT_MAX_BODY_BYTES"]

PROTOBUF = "application/x-protobuf"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
TRACE_HEADER = "X-Vcap-Request-Id"

log = logging.getLogger("fakebbs.app")


class BBSApp:
    """A WSGI app serving the BBS API over one ``State``.

    The real BBS reads any body size; a test fake should not be run out of memory by one, so
    bodies over ``max_body_bytes`` get a plain 413 instead. Exceptions that escape a handler
    (bugs in the fake) are answered 500 and kept in ``errors`` for tests to re-raise.
    """

    def __init__(self, state: State, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.state = state
        self.max_body_bytes = max_body_bytes
        self.errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._routes: dict[str, dict[str, Route]] = {}
        for route in ROUTES:
            self._routes.setdefault(route.path, {})[route.method] = route

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.max_body_bytes
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        methods = self._routes.get(request.path)
        if methods is None:
            return _text(404, "404 page not found\n")
        route = methods.get(request.method)
        if route is None:
            response = _text(405, "Method Not Allowed\n")
            response.headers["Allow"] = ", ".join(sorted(methods))
            return response
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _text(413, f"request body larger than {self.max_body_bytes} bytes\n")
        except HTTPException as exc:
            return _text(exc.code or 400, f"{exc.description}\n")
        except Exception as exc:  # noqa: BLE001 - a broken chunked body surfaces as anything
            return _text(400, f"malformed request body: {exc}\n")
        return self.handle(route, body, request.headers.get(TRACE_HEADER, ""))

    def handle(self, route: Route, body: bytes, trace_id: str = "") -> Response:
        """Answer one request for ``route`` whose body has been read."""
        handler = HANDLERS.get(route.name)
        if handler is None:
            message = f"fakebbs: {route.path} ({route.name}) is not implemented yet"
            if route.response is None:
                return _text(501, message + "\n")
            return _protobuf(_error_response(route, UnknownError(message)))
        parsed = False
        try:
            request = _decode(route, body)
            if handler.prepare is not None and request is not None:
                handler.prepare(request, body)
            if request is not None:
                validate(request, require_metric_tags=handler.require_metric_tags)
            parsed = True
            response = handler.run(self.state, request, Call(route, trace_id, body))
        except BBSError as error:
            response = _error_response(route, error)
            if not parsed and handler.on_bad_request is not None:
                handler.on_bad_request(response)
            return _protobuf(response)
        except Exception as exc:
            log.exception("fakebbs: handler for %s failed", route.name)
            with self._errors_lock:
                self.errors.append(exc)
            return _text(500, f"fakebbs: internal error in {route.name}: {exc!r}\n")
        return _protobuf(response)


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


def _error_response(route: Route, error: BBSError) -> Message:
    assert route.response is not None
    response: Message = getattr(models, route.response)()
    response.error.CopyFrom(models.Error(type=error.type, message=error.message))  # type: ignore[attr-defined]
    return response


def _protobuf(message: Message) -> Response:
    return Response(message.SerializeToString(deterministic=True), 200, content_type=PROTOBUF)


def _text(status: int, body: str) -> Response:
    response = Response(body, status, content_type="text/plain; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
