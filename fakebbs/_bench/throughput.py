"""Requests per second with 1 and 8 keep-alive clients, the servers in child processes."""

from __future__ import annotations

import statistics
import threading
import time

from fakebbs import models
from fakebbs._bench.figures import Figure, Sizes
from fakebbs._bench.servers import RawConnection, child_server
from fakebbs._bench.workload import Request, make_request


def _rps(url: str, request: Request, clients: int, seconds: float) -> float:
    counts = [0] * clients
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        conn = RawConnection(url)
        try:
            conn.send(request)  # connect first
            barrier.wait()
            while time.monotonic() < deadline:
                conn.send(request)
                counts[number] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    deadline = started + seconds
    for thread in threads:
        thread.join()
    return sum(counts) / max(time.monotonic() - started, 1e-9)


_RPS_WINDOWS = 4


def throughput(sizes: Sizes) -> list[Figure]:
    figures = []
    requests = [
        make_request("ping", "Ping"),
        make_request(
            "get by guid",
            "DesiredLRPByProcessGuid",
            models.DesiredLRPByProcessGuidRequest(process_guid="rps-0"),
        ),
    ]
    with child_server("fake") as fake_url, child_server("bare") as bare_url:
        for request in requests:
            for clients in (1, 8):
                # Alternating windows, so a burst of other work weighs on both alike.
                window = sizes.rps_seconds / _RPS_WINDOWS
                rates: dict[str, list[float]] = {fake_url: [], bare_url: []}
                for _ in range(_RPS_WINDOWS):
                    for url, samples in rates.items():
                        samples.append(_rps(url, request, clients, window))
                fake, bare = statistics.mean(rates[fake_url]), statistics.mean(rates[bare_url])
                figures.append(
                    Figure(
                        "requests per second (server in a child process)",
                        f"{request.label}, {clients} client{'s' if clients > 1 else ''}",
                        "req/s",
                        fake,
                        bare,
                        "bare app on the same server",
                        higher_is_better=True,
                    )
                )
    return figures
