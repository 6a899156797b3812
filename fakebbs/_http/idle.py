"""What waits without a thread: connections whose request has not all arrived, and event
streams between two events.

cheroot gives a connection to a worker thread as soon as it is accepted or has a byte to read,
and the worker then blocks until the whole request is there; an event stream holds its worker
for as long as the subscriber stays. Either way one namespace could take every worker (300
streams or 300 slow clients did). Here instead:

* ``RequestGatherer`` reads, on one thread for every connection, until a request's head and
  (up to ``GATHER_BODY_BYTES``) its body have arrived, doing the TLS handshake the same way; only
  then is the connection handed to a worker, with what was read put in front of cheroot's
  reader. A request that is all there already (the usual case) is handed over at once, from the
  thread that noticed it.
* ``StreamWriter`` writes every open event stream from one thread: a stream's worker hands it
  over once the headers are sent, and the writer sends each event as it comes (chunked, as
  cheroot would), notices a subscriber that went away, and ends the stream as the app would.

Both use non-blocking sockets and a selector; nothing here parses more HTTP than where a
request head ends and where its body does (its Content-Length, or its chunk sizes).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

from fakebbs._http.cheroot import Connection, prefill
from fakebbs._http.events import EventStream

__all__ = ["GATHER_BODY_BYTES", "RequestGatherer", "StreamWriter"]

logger = logging.getLogger("fakebbs.server")

GATHER_BODY_BYTES = 1024 * 1024
"""Bodies up to this size, announced by Content-Length or sent in chunks, are read before a
worker is given the request; a larger one is read by its worker."""

_HEAD_BYTES = 1024 * 1024  # past this without the end of the head, a worker takes it (and refuses)
_READ_SIZE = 65536
_KEY_BYTES = 8192  # what ``request_key`` is shown of a request: its head, or the start of it
_SWEEP_SECONDS = 1.0
_HIGH_WATER = 256 * 1024  # a stream's unsent bytes beyond which its events wait in its queue
_WRITER_IDLE_SECONDS = 2.0  # the writer thread ends after this long without a stream
_CHUNK_LINE_BYTES = 4096  # a chunk-size line longer than this is refused by the worker

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)[ \t]*\r\n", re.IGNORECASE)
_EXPECT = re.compile(rb"\r\nexpect:", re.IGNORECASE)
_TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding:", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked[ \t]*\r\n", re.IGNORECASE)
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_NOT_YET = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def request_complete(data: bytes | bytearray) -> bool:
    """Whether ``data`` holds a whole request head and, unless a worker should read it (a body
    over ``GATHER_BODY_BYTES``, a transfer encoding other than chunked, or a client that waits
    for ``100 Continue``), the whole body: the bytes its Content-Length announces, or every
    chunk through the last one and the trailers. A worker takes anything it cannot make sense
    of at once, to refuse it."""
    end = data.find(_HEAD_END)
    if end < 0:
        return len(data) > _HEAD_BYTES
    head = bytes(data[: end + 2])
    if _EXPECT.search(head):
        return True
    if _TRANSFER_ENCODING.search(head):
        return not _CHUNKED.search(head) or _chunks_complete(data, end + 4)
    length = _CONTENT_LENGTH.search(head)
    if length is None:
        return True
    size = int(length.group(1))
    return size > GATHER_BODY_BYTES or len(data) >= end + 4 + size


def _chunks_complete(data: bytes | bytearray, start: int) -> bool:
    """Whether the chunked body from ``start`` has arrived through its last chunk and the
    empty line after the trailers, grown past ``GATHER_BODY_BYTES``, or gone wrong."""
    at = start
    while at - start <= GATHER_BODY_BYTES:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return len(data) - at > _CHUNK_LINE_BYTES
        size_text = bytes(data[at:line_end]).split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size_text):
            return True
        size = int(size_text, 16)
        if size == 0:  # the last chunk: then trailer lines up to an empty one
            return data.find(_HEAD_END, line_end) >= 0 or len(data) - line_end > _HEAD_BYTES
        at = line_end + 2 + size + 2  # the size line, the chunk and its CRLF
        if at > len(data):
            return at - start > GATHER_BODY_BYTES
    return True


class _Waker:
    """A socket pair that wakes a selector from another thread."""

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def wake(self) -> None:
        try:
            self.writer.send(b"\0")
        except (BlockingIOError, OSError):  # full: a wake is pending anyway; closed: stopping
            pass

    def drain(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class _Gathering:
    __slots__ = ("conn", "sock", "data", "handshaking", "since")

    def __init__(self, conn: Connection, handshaking: bool) -> None:
        self.conn = conn
        self.sock: socket.socket = conn.socket
        self.data = bytearray()
        self.handshaking = handshaking
        self.since = time.monotonic()


class RequestGatherer:
    """Reads connections until their request is there, then ``dispatch``es them (see the module
    docstring). ``timeout`` is how long a connection may send nothing before it is closed (the
    server's idle keep-alive timeout), ``handshake_timeout`` the same for a TLS handshake.

    Connections are ``fakebbs._http.cheroot.Connection``s: the gatherer finishes a TLS handshake
    still due (``handshake_pending``) and tells the connection how it went (``handshake_done()``,
    or ``handshake_failed(exc)``, which the worker reports); with ``request_key``, it sets the
    connection's ``request_key`` to what that makes of the request's head.
    """

    def __init__(
        self,
        dispatch: Callable[[Connection], None],
        *,
        request_key: Callable[[bytes], str] | None = None,
        timeout: float,
        handshake_timeout: float,
        name: str = "fakebbs-gatherer",
    ) -> None:
        self._dispatch = dispatch
        self._request_key = request_key
        self._timeout = timeout
        self._handshake_timeout = handshake_timeout
        self._name = name
        self._selector = selectors.DefaultSelector()
        self._waker = _Waker()
        self._selector.register(self._waker.reader, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._incoming: list[_Gathering] = []
        self._stopping = False
        self._waiting: dict[int, _Gathering] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def add(self, conn: Connection) -> None:
        """Take a connection that has, or will have, something to read. Called from cheroot's
        accept loop: a request already all there is dispatched at once, from here."""
        gathering = _Gathering(conn, conn.handshake_pending)
        if not gathering.handshaking and self._read(gathering):
            return
        with self._lock:
            if not self._stopping:
                self._incoming.append(gathering)
                self._waker.wake()
                return
        conn.close()

    @property
    def waiting(self) -> int:
        """Connections waiting for their request now."""
        with self._lock:
            return len(self._waiting) + len(self._incoming)

    def stop(self, timeout: float) -> None:
        """Close every connection still waiting and end the thread."""
        with self._lock:
            self._stopping = True
            self._waker.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self._selector.close()
        self._waker.close()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    incoming, self._incoming = self._incoming, []
                    stopping = self._stopping
                if stopping:
                    for gathering in incoming:
                        gathering.conn.close()
                    break
                for gathering in incoming:
                    self._waiting[gathering.sock.fileno()] = gathering
                    self._selector.register(gathering.sock, selectors.EVENT_READ, gathering)
                    self._advance(gathering)
                for key, _ in self._selector.select(_SWEEP_SECONDS):
                    if key.data is None:
                        self._waker.drain()
                    else:
                        self._advance(key.data)
                self._expire()
        except Exception:  # logged; the connections are closed below
            logger.exception("the request gatherer failed")
        finally:
            for gathering in list(self._waiting.values()):
                self._forget(gathering)
                gathering.conn.close()

    def _advance(self, gathering: _Gathering) -> None:
        gathering.since = time.monotonic()
        if gathering.handshaking:
            sock = gathering.sock
            assert isinstance(sock, ssl.SSLSocket)
            try:
                sock.setblocking(False)
                sock.do_handshake()
            except ssl.SSLWantReadError:
                self._want(gathering, selectors.EVENT_READ)
                return
            except ssl.SSLWantWriteError:
                self._want(gathering, selectors.EVENT_WRITE)
                return
            except OSError as exc:  # the worker logs and answers it as it always did
                gathering.conn.handshake_failed(exc)
                self._hand_over(gathering)
                return
            gathering.handshaking = False
            gathering.conn.handshake_done()
            self._want(gathering, selectors.EVENT_READ)
        if self._read(gathering):
            self._forget(gathering)

    def _read(self, gathering: _Gathering) -> bool:
        """Read what has arrived; True once the connection is dispatched or closed."""
        sock = gathering.sock
        try:
            sock.setblocking(False)
            while True:
                data = sock.recv(_READ_SIZE)
                if not data:  # the client closed: let cheroot answer what it sent, if anything
                    return self._finish(gathering, dispatch=bool(gathering.data))
                gathering.data += data
                if request_complete(gathering.data):
                    return self._finish(gathering, dispatch=True)
        except _NOT_YET:
            return False
        except OSError:
            return self._finish(gathering, dispatch=False)

    def _finish(self, gathering: _Gathering, *, dispatch: bool) -> bool:
        if dispatch:
            return self._hand_over(gathering)
        self._forget(gathering)
        gathering.conn.close()
        return True

    def _hand_over(self, gathering: _Gathering) -> bool:
        self._forget(gathering)
        conn = gathering.conn
        if self._request_key is not None and gathering.data:
            conn.request_key = self._request_key(bytes(gathering.data[:_KEY_BYTES]))
        try:
            gathering.sock.settimeout(conn.server.timeout)
            prefill(conn, bytes(gathering.data))
        except OSError:
            conn.close()
            return True
        self._dispatch(conn)
        return True

    def _want(self, gathering: _Gathering, events: int) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.modify(gathering.sock, events, gathering)

    def _forget(self, gathering: _Gathering) -> None:
        fd = gathering.sock.fileno()
        if self._waiting.get(fd) is gathering:
            del self._waiting[fd]
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(gathering.sock)

    def _expire(self) -> None:
        now = time.monotonic()
        for gathering in list(self._waiting.values()):
            limit = self._handshake_timeout if gathering.handshaking else self._timeout
            if now - gathering.since > limit:
                self._forget(gathering)
                gathering.conn.close()


# -- event streams -----------------------------------------------------------------------------


class _Outgoing:
    __slots__ = ("stream", "sock", "fd", "chunked", "left", "unsent", "ending", "events", "stuck")

    def __init__(self, stream: EventStream, sock: socket.socket, chunked: bool, limit: int) -> None:
        self.stream = stream
        self.sock = sock
        self.fd = sock.fileno()
        self.chunked = chunked
        self.left = limit  # events still to send before ending (-1: no limit)
        self.unsent = bytearray()
        self.ending = False  # the end is queued in ``unsent``: close once it is sent
        self.events = selectors.EVENT_READ
        self.stuck: float | None = None  # since when the socket has taken nothing


class StreamWriter:
    """Writes every handed-over event stream from one thread (see the module docstring). The
    thread runs while there are streams, and ends ``_WRITER_IDLE_SECONDS`` after the last. A
    subscriber that reads nothing for ``timeout`` seconds while events wait is disconnected
    (as a blocked write times out)."""

    def __init__(self, name: str = "fakebbs-streams", *, timeout: float = 120.0) -> None:
        self._name = name
        self._timeout = timeout
        self._lock = threading.Lock()
        self._incoming: list[_Outgoing] = []
        self._ready: set[_Outgoing] = set()
        self._open: dict[int, _Outgoing] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._waker: _Waker | None = None
        self._selector: selectors.BaseSelector | None = None

    @property
    def streams(self) -> int:
        """Streams being written now."""
        with self._lock:
            return len(self._open) + len(self._incoming)

    def add(self, stream: EventStream, sock: socket.socket, *, chunked: bool, limit: int) -> None:
        """Write ``stream``'s events to ``sock`` from now on (its headers are sent), ``limit``
        of them (-1: all), and close ``sock`` at its end."""
        outgoing = _Outgoing(stream, sock, chunked, limit)
        with self._lock:
            stopping = self._stopping
            if not stopping:
                self._incoming.append(outgoing)
                self._start_or_wake()
        if stopping:  # handed over as the server stops: its subscription has ended
            self._finish_now(outgoing)

    def _start_or_wake(self) -> None:
        # Called with the lock held.
        if self._thread is None:
            self._waker = _Waker()
            self._selector = selectors.DefaultSelector()
            self._selector.register(self._waker.reader, selectors.EVENT_READ, None)
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        else:
            assert self._waker is not None
            self._waker.wake()

    def _finish_now(self, outgoing: _Outgoing) -> None:
        """Send what the stream still has and its end, blocking (briefly), then close."""
        try:
            outgoing.sock.settimeout(1.0)
            self._fill(outgoing)
            outgoing.sock.sendall(outgoing.unsent)
        except OSError:
            pass
        finally:
            outgoing.stream.close()
            with contextlib.suppress(OSError):
                outgoing.sock.close()

    def stop(self, timeout: float) -> None:
        """Stop taking streams; send what the open ones have (their subscriptions ended, the
        server is stopping) for up to ``timeout`` seconds, then close them all."""
        with self._lock:
            self._stopping = True
            thread, waker = self._thread, self._waker
            if waker is not None:
                waker.wake()
        if thread is not None:
            thread.join(timeout + 1.0)

    def _mark(self, outgoing: _Outgoing) -> None:
        # The subscription's watcher: any thread, under the subscription's lock. Quick.
        with self._lock:
            self._ready.add(outgoing)
            if self._waker is not None:
                self._waker.wake()

    def _run(self) -> None:
        assert self._selector is not None and self._waker is not None
        selector, waker = self._selector, self._waker
        idle_since = time.monotonic()
        deadline: float | None = None
        try:
            while True:
                with self._lock:
                    incoming, self._incoming = self._incoming, []
                    ready, self._ready = self._ready, set()
                    stopping = self._stopping
                    if not incoming and not ready and not self._open:
                        if stopping or time.monotonic() - idle_since > _WRITER_IDLE_SECONDS:
                            self._thread = None
                            break
                for outgoing in incoming:
                    outgoing.sock.setblocking(False)
                    self._open[outgoing.fd] = outgoing
                    selector.register(outgoing.sock, selectors.EVENT_READ, outgoing)
                    outgoing.stream.watch(functools.partial(self._mark, outgoing))
                for outgoing in ready:
                    if self._open.get(outgoing.fd) is outgoing:
                        self._service(outgoing)
                if stopping:
                    deadline = deadline or time.monotonic() + _STOP_GRACE
                    if time.monotonic() > deadline:
                        for outgoing in list(self._open.values()):
                            self._close(outgoing)
                        continue
                for key, mask in selector.select(0.25 if stopping else _SWEEP_SECONDS):
                    if key.data is None:
                        waker.drain()
                        continue
                    outgoing = key.data
                    if mask & selectors.EVENT_READ and self._peer_gone(outgoing):
                        self._close(outgoing)
                    elif mask & selectors.EVENT_WRITE:
                        self._service(outgoing)
                now = time.monotonic()
                for outgoing in list(self._open.values()):
                    if outgoing.stuck is not None and now - outgoing.stuck > self._timeout:
                        self._close(outgoing)
                if self._open or incoming:
                    idle_since = now
        except Exception:  # logged; every stream is closed below
            logger.exception("the event stream writer failed")
        finally:
            for outgoing in list(self._open.values()):
                self._close(outgoing)
            with self._lock:
                if self._thread is threading.current_thread():  # failed: the next add restarts
                    self._thread = None
                    for outgoing in self._incoming:
                        outgoing.stream.close()
                        outgoing.sock.close()
                    self._incoming.clear()
            selector.close()
            waker.close()

    def _service(self, outgoing: _Outgoing) -> None:
        """Move events from the subscription to the socket while the socket takes them."""
        try:
            while True:
                self._fill(outgoing)
                if not outgoing.unsent or not self._send(outgoing):
                    return  # nothing new, or the socket is full (or gone)
                if outgoing.ending:
                    self._close(outgoing)
                    return
        except Exception:  # a bug presenting an event: end this stream only
            logger.exception("error writing an event stream; ending it")
            self._close(outgoing)

    def _fill(self, outgoing: _Outgoing) -> None:
        while not outgoing.ending and len(outgoing.unsent) < _HIGH_WATER:
            chunk = None if outgoing.left == 0 else outgoing.stream.poll(0)
            if chunk is None:  # the stream ended (or its limit was reached): end the answer
                if outgoing.chunked:
                    outgoing.unsent += b"0\r\n\r\n"
                outgoing.ending = True
                return
            if not chunk:
                return
            outgoing.left -= outgoing.left > 0
            if outgoing.chunked:
                outgoing.unsent += b"%x\r\n%s\r\n" % (len(chunk), chunk)
            else:
                outgoing.unsent += chunk

    def _send(self, outgoing: _Outgoing) -> bool:
        """Send what is pending; True when all of it went."""
        sock = outgoing.sock
        while outgoing.unsent:
            try:
                sent = sock.send(outgoing.unsent)
            except (BlockingIOError, ssl.SSLWantWriteError):
                if outgoing.stuck is None:
                    outgoing.stuck = time.monotonic()
                self._interest(outgoing, selectors.EVENT_READ | selectors.EVENT_WRITE)
                return False
            except ssl.SSLWantReadError:
                return False
            except OSError:
                self._close(outgoing)
                return False
            del outgoing.unsent[:sent]
            outgoing.stuck = None
        self._interest(outgoing, selectors.EVENT_READ)
        return True

    def _interest(self, outgoing: _Outgoing, events: int) -> None:
        if outgoing.events != events and self._open.get(outgoing.fd) is outgoing:
            assert self._selector is not None
            outgoing.events = events
            self._selector.modify(outgoing.sock, events, outgoing)

    @staticmethod
    def _peer_gone(outgoing: _Outgoing) -> bool:
        """A streaming client sends nothing after its request: any read is the end (EOF or an
        error), or bytes to discard, as upstream's ``rw.ReadFrom(conn)`` does."""
        try:
            return outgoing.sock.recv(4096) == b""
        except _NOT_YET:
            return False
        except OSError:
            return True

    def _close(self, outgoing: _Outgoing) -> None:
        if self._open.get(outgoing.fd) is outgoing:
            del self._open[outgoing.fd]
            with contextlib.suppress(KeyError, ValueError, OSError):
                assert self._selector is not None
                self._selector.unregister(outgoing.sock)
        outgoing.stream.close()
        with contextlib.suppress(KeyError, ValueError, OSError):
            outgoing.sock.close()


_STOP_GRACE = 2.0
"""How long a stopping writer lets streams send their end before it closes them."""
