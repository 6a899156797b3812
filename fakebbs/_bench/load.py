"""A shared ``fakebbs serve`` under load: many open streams or idle connections in one
namespace, and what that costs the server and a ping in another."""

from __future__ import annotations

import http.client
import os
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from fakebbs._bench.figures import Figure, Sizes, ms, p50
from fakebbs._bench.servers import cli_server


@dataclass(frozen=True)
class _Usage:
    threads: float | None
    fds: float | None
    rss_mb: float | None


def _usage(pid: int) -> _Usage:
    """A process's threads, open file descriptors and resident set (Linux /proc; None
    elsewhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return _Usage(None, None, None)
    return _Usage(
        float(fields["Threads"].strip()), float(fds), int(fields["VmRSS"].split()[0]) / 1024
    )


def _other_namespace_pings(port: int, count: int = 50) -> list[float]:
    """Seconds per ping in namespace ``other``, over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("POST", "/ns/other/v1/ping", body=b"")
            conn.getresponse().read()
            samples.append(time.perf_counter() - started)
    finally:
        conn.close()
    return samples


def _open_clients(port: int, count: int, request: bytes, answer_end: bytes) -> list[Any]:
    """``count`` connections that sent ``request`` and read their answer up to
    ``answer_end`` (the end of a stream's headers, or of a ping's answer)."""
    import socket

    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=60)
        clients.append(client)
        client.sendall(request)
        received = b""
        while not received.endswith(answer_end):
            data = client.recv(4096)
            if not data:
                raise RuntimeError("the server closed a connection the bench keeps open")
            received += data
    return clients


def _back_to_idle(pid: int, idle: _Usage, timeout: float = 30.0) -> float | None:
    """Seconds until the process's threads and fds are back to ``idle``'s (None: not within
    ``timeout``, or not measurable here)."""
    if idle.threads is None:
        return None
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = _usage(pid)
        if now.threads is not None and now.fds is not None and idle.fds is not None:
            if now.threads <= idle.threads and now.fds <= idle.fds:
                return time.monotonic() - started
        time.sleep(0.05)
    return None


def load(sizes: Sizes) -> list[Figure]:
    section = "a shared server under load (fakebbs serve --quiet, namespaces hog and other)"
    loads = (
        (
            f"{sizes.streams:,} open event streams",
            sizes.streams,
            b"POST /ns/hog/v1/events/lrp_instances.r1 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 0\r\n\r\n",
            b"\r\n\r\n",
        ),
        (
            f"{sizes.keep_alive:,} idle keep-alive connections",
            sizes.keep_alive,
            b"POST /ns/hog/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            b"\x08\x01",
        ),
    )
    figures: list[Figure] = []
    pid: list[int] = []
    with cli_server("--quiet", pid=pid) as url:
        port = urllib.parse.urlsplit(url).port or 0
        _other_namespace_pings(port, 5)  # makes namespace other
        idle = _usage(pid[0])
        idle_pings = _other_namespace_pings(port)
        for name, count, request, answer_end in loads:
            clients = _open_clients(port, count, request, answer_end)
            try:
                loaded = _usage(pid[0])
                pings = _other_namespace_pings(port)
            finally:
                for client in clients:
                    client.close()
            back = _back_to_idle(pid[0], idle)
            figures += [
                Figure(section, f"{name}: threads", "", loaded.threads, idle.threads, "idle"),
                Figure(section, f"{name}: file descriptors", "", loaded.fds, idle.fds, "idle"),
                Figure(section, f"{name}: resident set", "MB", loaded.rss_mb, idle.rss_mb, "idle"),
                Figure(
                    section,
                    f"{name}: ping p50, other namespace",
                    "ms",
                    ms(p50(pings)),
                    ms(p50(idle_pings)),
                    "idle",
                ),
                Figure(
                    section,
                    f"{name}: slowest of 50 pings, other namespace",
                    "ms",
                    ms(max(pings)),
                    ms(max(idle_pings)),
                    "idle",
                    target="100 ms",
                ),
                Figure(
                    section,
                    f"{name}: closed, back to idle threads and fds in",
                    "s",
                    back,
                    target="5 s",
                ),
            ]
    return figures
