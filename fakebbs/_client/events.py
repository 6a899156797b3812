"""Reading a BBS event stream: go-sse's parser over the body's lines, in a background thread,
and upstream's decoding of each event (``EventSource`` is re-exported by ``fakebbs.client``)."""

from __future__ import annotations

import base64
import binascii
import http.client
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Self

from google.protobuf.message import DecodeError, Message

from fakebbs.errors import InvalidProtobufMessage
from fakebbs.routes import EVENT_TYPES

__all__ = ["EventSource", "decode_event", "lines_of_chunks", "lines_of_response"]


class EventSource:
    """A subscription to a BBS event stream: decoded event messages, in order.

    Like the Go client's ``events.EventSource``: ``next()`` returns the next event message
    (an instance of a class of :data:`EVENT_TYPES`; events of unknown names are skipped), raises
    ``EOFError`` once the server has ended the stream cleanly, and raises the transport error if
    the connection broke (no reconnect here). ``next(timeout=...)`` raises ``TimeoutError``
    when no event arrived within ``timeout`` seconds. Iterating yields events until the end.
    ``close()`` (also on leaving a ``with`` block) drops the connection.

    A background thread reads and decodes the stream into a queue, so events are read off the
    socket as soon as they arrive.
    """

    def __init__(
        self,
        lines: Iterator[bytes],
        disconnect: Callable[[], None],
        sock: socket.socket | None = None,
    ) -> None:
        self._lines = lines
        self._disconnect = disconnect
        self._sock = sock
        self._events: queue.SimpleQueue[Message | BaseException] = queue.SimpleQueue()
        self._closed = False
        self._finished = False
        self._reader = threading.Thread(target=self._read, name="fakebbs-event-source", daemon=True)
        self._reader.start()

    def next(self, timeout: float | None = None) -> Message:
        """The next event message; see the class docstring."""
        if self._finished:
            raise EOFError("the event stream has ended")
        if self._closed:
            raise RuntimeError("the event source has been closed")
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout} s") from None
        if isinstance(item, EOFError):
            self._finished = True
        if isinstance(item, BaseException):
            raise item
        return item

    def __iter__(self) -> Iterator[Message]:
        while True:
            try:
                yield self.next()
            except EOFError:
                return

    def close(self) -> None:
        """Drop the connection and wait for the reader thread. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
            except OSError:
                pass
        self._disconnect()
        self._reader.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self) -> None:
        """go-sse's reader: ``field: value`` lines, a blank line ends an event, ``:`` starts a
        comment; ``data`` lines are joined with newlines; an event without data is skipped."""
        name, data = "", b""
        has_data = False
        try:
            for raw in self._lines:
                line = raw.rstrip(b"\n").rstrip(b"\r")
                if line == b"":
                    if has_data:
                        message = decode_event(name, data)
                        if message is not None:
                            self._events.put(message)
                    name, data, has_data = "", b"", False
                    continue
                if line.startswith(b":"):
                    continue
                key, _, value = line.partition(b":")
                if value.startswith(b" "):
                    value = value[1:]
                if key == b"event":
                    name = value.decode("utf-8", "replace")
                elif key == b"data":
                    data = data + b"\n" + value if has_data else value
                    has_data = True
            self._events.put(EOFError("the event stream has ended"))
        except BaseException as err:  # noqa: BLE001 - handed to the caller of next()
            if self._closed:
                self._events.put(EOFError("the event source has been closed"))
            else:
                self._events.put(err)
        finally:
            close = getattr(self._lines, "close", None)
            if close is not None:
                close()


def decode_event(name: str, data: bytes) -> Message | None:
    """Upstream ``parseRawEvent``: base64 of the protobuf message; unknown names skipped."""
    message_type = EVENT_TYPES.get(name)
    if message_type is None:
        return None
    try:
        payload = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidProtobufMessage(f"invalid protobuf payload of type {name}: {err}") from err
    if not payload:
        raise InvalidProtobufMessage(f"invalid protobuf payload of type {name}: event with no data")
    try:
        return message_type.FromString(payload)
    except DecodeError as err:
        raise InvalidProtobufMessage(f"invalid protobuf payload of type {name}: {err}") from err


def lines_of_response(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The body's lines (chunked coding undone); ends at the terminating chunk."""
    while line := response.readline():
        yield line


def lines_of_chunks(chunks: Iterable[bytes], body: Iterable[bytes]) -> Iterator[bytes]:
    """Lines out of a WSGI body's chunks; at the end this closes the ``body``."""
    pending = b""
    try:
        for chunk in chunks:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
