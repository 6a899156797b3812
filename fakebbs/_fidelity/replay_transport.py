"""The replayer's transport: calls to the fake over HTTP(S) on one kept-alive connection, and
event streams read by a thread each, as the BBS's Go client would."""

from __future__ import annotations

import http.client
import queue
import ssl
import threading
import urllib.parse

from fakebbs._rules.wire import PROTOBUF

__all__ = ["END", "Connection", "Stream"]


class Connection:
    """Keep-alive HTTP(S) connections to a BBS (the fake, when replaying; the real one, behind
    the recording proxy): one kept connection for calls (they are serialized), a new one per
    event stream."""

    def __init__(self, url: str, ssl_context: ssl.SSLContext | None, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.context = ssl_context
        if self.https and self.context is None:
            self.context = ssl.create_default_context()
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def open(self, timeout: float | None) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def forward(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request on the kept connection: (status, headers, body); once more on a fresh
        connection if the kept one had gone, then the error is raised."""
        for attempt in range(2):
            try:
                if self._conn is None:
                    self._conn = self.open(self.timeout)
                self._conn.request(method, target, body=body, headers=headers)
                response = self._conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def call(
        self, method: str, path: str, body: bytes | None, content_type: str = PROTOBUF
    ) -> tuple[int, str, bytes]:
        """One request: (status, content type, body); status 0 when it failed twice."""
        headers = {"Content-Type": content_type, "Accept": PROTOBUF}
        try:
            status, answer_headers, data = self.forward(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            return 0, f"{type(exc).__name__}: {exc}", b""
        kind = next((v for k, v in answer_headers if k.lower() == "content-type"), "")
        return status, kind, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


END = ("", "")


class Stream:
    """One event stream subscription, read by a thread into a queue of (event name, data)."""

    def __init__(self, connection: Connection, method: str, path: str, body: bytes | None) -> None:
        self._conn = connection.open(timeout=None)
        headers = {"Accept": "text/event-stream"}
        self._conn.request(
            method, path, body=body if body or method == "GET" else b"", headers=headers
        )
        self._response = self._conn.getresponse()
        self.error = "" if self._response.status == 200 else f"HTTP {self._response.status}"
        self.ended = False
        self._frames: queue.Queue[tuple[str, str]] = queue.Queue()
        threading.Thread(target=self._read, name="fakebbs-replay-stream", daemon=True).start()

    def _read(self) -> None:
        name, data = "", list[str]()
        try:
            while not self.error:
                raw = self._response.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data:
                        self._frames.put((name or "message", "".join(data)))
                    name, data = "", []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed under the reader: the sequence is over
        finally:
            self._frames.put(END)

    def next(self, timeout: float) -> tuple[str, str] | None:
        """The next frame; None when none came in time or the stream has ended."""
        if self.ended:
            return None
        try:
            frame = self._frames.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if frame == END:
            self.ended = True
            return None
        return frame

    def close(self) -> None:
        try:
            if self._conn.sock is not None:
                self._conn.sock.shutdown(2)
        except OSError:
            pass
        self._conn.close()
