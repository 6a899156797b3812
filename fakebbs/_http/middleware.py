"""Between cheroot and the app: bad request bodies, the request log line, errors of the app.

* A Content-Length cheroot lets through (``-5``, ``+5``) is answered ``400 Bad Request``.
* ``wsgi.input`` raises ``BodyReadError`` (a ValueError) on a broken chunked body and on a body
  shorter than its Content-Length (cheroot returns it short without a word); if the app lets
  that error escape, the answer is ``400 Bad Request`` (cheroot's is a ``500`` with an empty
  body). After any of these the connection is closed: the rest of the stream cannot be trusted
  to start a new request.
* One INFO line per request on the ``fakebbs.server`` logger, app errors at ERROR with their
  traceback, and every exception the app raised kept in the server's ``errors`` list.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from fakebbs._http.environ import CLOSE_CONNECTION_ENVIRON_KEY, LOG_ENVIRON_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["BodyReadError", "ServerMiddleware"]

logger = logging.getLogger("fakebbs.server")

_CONTENT_LENGTH = re.compile(r"[0-9]+")  # what Go's server accepts (strconv.ParseUint base 10)


class BodyReadError(ValueError):
    """The request body could not be read (malformed chunked coding, or cut short).

    Raised by ``wsgi.input`` reads; a ValueError like cheroot's own chunked-coding errors, so
    werkzeug's request stream turns it into ``ClientDisconnected`` (a 400) as it does those.
    """


class _GuardedInput:
    """``wsgi.input`` that notices a body that cannot be read, and whether it was read to its end.

    cheroot raises ValueError on a broken chunked body and silently returns a short body when
    the client stops sending before Content-Length; both become ``BodyReadError`` here.
    """

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self._length = length  # None: chunked, read up to the terminating chunk
        self._received = 0
        self.error: str | None = None
        self.finished = length == 0

    def read(self, size: int | None = -1) -> bytes:
        whole = size is None or size < 0
        return self._guard(self._stream.read, None if whole else size, whole)

    def readline(self, size: int | None = -1) -> bytes:
        return self._guard(self._stream.readline, None if size is None or size < 0 else size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
            if hint is not None and 0 < hint <= sum(map(len, lines)):
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def _guard(
        self, read: Callable[[int | None], bytes], size: int | None, whole: bool = False
    ) -> bytes:
        if self.error is not None:
            raise BodyReadError(self.error)
        try:
            data = bytes(read(size))
        except ValueError as exc:  # cheroot's ChunkedRFile: bad size line, missing CRLF, EOF
            self._fail(f"Malformed chunked request body: {exc}", exc)
        self._received += len(data)
        if self._length is None:
            self.finished = self.finished or whole or not data
        elif self._received < self._length and (whole or not data):
            self._fail(
                f"Request body ended after {self._received} of the {self._length} bytes"
                " its Content-Length announced."
            )
        else:
            self.finished = self._received >= self._length
        return data

    def _fail(self, message: str, cause: BaseException | None = None) -> NoReturn:
        self.error = message
        raise BodyReadError(message) from cause


class ServerMiddleware:
    """Between cheroot and the app: validate Content-Length, guard the body, log, catch errors."""

    def __init__(self, app: WSGIApplication, errors: list[BaseException]) -> None:
        self.app = app
        self.errors = errors

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        log = _RequestLog(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            log.status = status.split(" ", 1)[0]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        close_connection: Callable[[], None] = environ.get(
            CLOSE_CONNECTION_ENVIRON_KEY, lambda: None
        )
        codings = environ.get("HTTP_TRANSFER_ENCODING", "").split(",")
        chunked = "chunked" in (coding.strip().lower() for coding in codings)  # as cheroot does
        declared = environ.get("CONTENT_LENGTH") or "0"
        if not chunked and not _CONTENT_LENGTH.fullmatch(declared):
            # cheroot rejects only what int() rejects, and int() takes "-5", "+5" and "1_0".
            close_connection()
            answer = _plain(start, "400 Bad Request", "Malformed Content-Length Header.")
            return _LoggedResponse(answer, log, self.errors)
        body = _GuardedInput(environ["wsgi.input"], None if chunked else int(declared))
        environ["wsgi.input"] = body

        def start_app_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            # After a bad body the stream cannot be trusted to start a new request; and cheroot
            # does not skip an unread chunked body before the next request (it does for a known
            # length), so close in both cases.
            if body.error is not None or (chunked and not body.finished):
                close_connection()
            return start(status, headers, exc_info)

        def after_response() -> None:
            if body.error is not None:  # the app read (and failed on) the body while streaming
                close_connection()

        try:
            result = self.app(environ, start_app_response)
        except BodyReadError as exc:  # the app let it through: answer for it
            close_connection()
            result = _plain(start, "400 Bad Request", str(exc), sys.exc_info())
        except Exception as exc:
            self.errors.append(exc)
            logger.exception(
                "error in the app handling %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            close_connection()
            result = _plain(
                start, "500 Internal Server Error", "Internal Server Error", sys.exc_info()
            )
        return _LoggedResponse(result, log, self.errors, after_response)


def _plain(
    start: Callable[..., Any], status: str, message: str, exc_info: Any = None
) -> list[bytes]:
    body = message.encode("utf-8", "replace") + b"\n"
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    start(status, headers, exc_info)
    return [body]


class _RequestLog:
    """The request's one log line, for instance::

        POST /v1/desired_lrp/desire.r2 route=DesireDesiredLRP_r2 namespace=default status=200
        result=ResourceExists duration=0.4ms client=127.0.0.1:50712  (one line)

    ``route``, ``namespace`` and ``result`` are what the app filled in under ``LOG_ENVIRON_KEY``
    (``-`` for an app that does not); ``duration`` runs until the response starts.
    The line is written before the first response byte, so a client that has its answer can
    rely on the line being there, and an event stream shows up when it opens. Nothing is
    formatted unless the logger is enabled at INFO.
    """

    def __init__(self, environ: WSGIEnvironment) -> None:
        self.environ = environ
        self.started = time.perf_counter()
        self.status = "-"
        self.note = ["-", "-", "-"]  # the app fills in route, namespace, result
        environ[LOG_ENVIRON_KEY] = self.note
        self._written = False

    def write(self) -> None:
        if self._written:
            return
        self._written = True
        if logger.isEnabledFor(logging.INFO):
            environ = self.environ
            route, namespace, result = self.note
            logger.info(
                "%s %s route=%s namespace=%s status=%s result=%s duration=%.1fms client=%s:%s",
                environ.get("REQUEST_METHOD", "-"),
                environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"),
                route,
                namespace,
                self.status,
                result,
                (time.perf_counter() - self.started) * 1000,
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REMOTE_PORT", "-"),
            )


class _LoggedResponse:
    """The app's response iterable; writes the request's log line before its first byte."""

    def __init__(
        self,
        result: Iterable[bytes],
        log: _RequestLog,
        errors: list[BaseException],
        after: Callable[[], None] = lambda: None,
    ) -> None:
        self._result = result
        self._log = log
        self._errors = errors
        self._after = after

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._result:
                if chunk:
                    self._log.write()
                yield chunk
        except Exception as exc:
            # cheroot logs it (through CherootServer.error_log) and drops the connection.
            self._errors.append(exc)
            raise
        self._log.write()  # an empty body: cheroot sends the headers after this

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._after()
            self._log.write()
