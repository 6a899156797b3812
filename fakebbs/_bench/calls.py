"""The per-call figures (plain, mutual TLS, in-process) and where a call's time goes between
cheroot, fakebbs's server layer, the app and the request log."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from fakebbs._bench.figures import Figure, Sizes, ms, p50, p99
from fakebbs._bench.servers import (
    TLS,
    Canned,
    RawConnection,
    bare_server,
    call_in_process,
    child_server,
    cli_server,
    plain_cheroot,
    record_answers,
)
from fakebbs._bench.workload import CALL_LABELS, Request, call_sequence, make_request
from fakebbs._fake import FakeBBS

Timer = Callable[[Request], float]


def time_calls(
    timer: Timer, prefix: str, iterations: int, start: int = 0
) -> dict[str, list[float]]:
    """Seconds per call of iterations ``start`` on of the call sequence, per call label."""
    samples: dict[str, list[float]] = {label: [] for label in CALL_LABELS}
    for i in range(start, start + iterations):
        for request in call_sequence(prefix, i):
            samples[request.label].append(timer(request))
    return samples


def _interleaved(
    timers: dict[str, Timer], prefix: str, iterations: int, block: int = 5
) -> dict[str, dict[str, list[float]]]:
    """Time the calls against every target in alternating blocks, so that a burst of other
    work on the machine weighs on them all alike."""
    results: dict[str, dict[str, list[float]]] = {
        name: {label: [] for label in CALL_LABELS} for name in timers
    }
    done = 0
    while done < iterations:
        size = min(block, iterations - done)
        for name, timer in timers.items():
            for label, samples in time_calls(timer, f"{prefix}-{name}", size, done).items():
                results[name][label].extend(samples)
        done += size
    return results


@dataclass(frozen=True)
class RealBBS:
    """A real BBS the per-call requests are also timed against (``--real-url``)."""

    url: str
    context: ssl.SSLContext


def per_call(sizes: Sizes, tls: TLS | None, real: RealBBS | None) -> list[Figure]:
    figures: list[Figure] = []
    canned = Canned()
    record_answers(FakeBBS().wsgi_app, canned, "recorded")
    transports: list[tuple[str, TLS | None]] = [("plain HTTP", None)]
    if tls is not None:
        transports.append(("mutual TLS", tls))
    for transport, tls_ in transports:
        fake = FakeBBS()
        context = None if tls_ is None else tls_.client_context()
        server_context = None if tls_ is None else tls_.server_context()
        with ExitStack() as stack:
            server = stack.enter_context(fake.serve(ssl_context=server_context))
            bare_url = stack.enter_context(bare_server(canned, tls_))
            fake_conn = RawConnection(server.url, context)
            bare_conn = RawConnection(bare_url, context)
            stack.callback(fake_conn.close)
            stack.callback(bare_conn.close)
            timers: dict[str, Timer] = {"fake": fake_conn.timed, "bare": bare_conn.timed}
            real_samples: dict[str, list[float]] = {}
            if real is not None and transport == "mutual TLS":
                real_conn = RawConnection(real.url, real.context)
                stack.callback(real_conn.close)
                timers["real"] = real_conn.timed
            results = _interleaved(timers, f"bench-{transport[0]}", sizes.calls)
            real_samples = results.get("real", {})
        for label in CALL_LABELS:
            fake_s, bare_s = results["fake"][label], results["bare"][label]
            for stat, pick in (("p50", p50), ("p99", p99)):
                figures.append(
                    Figure(
                        f"per call, {transport}",
                        f"{label} {stat}",
                        "ms",
                        ms(pick(fake_s)),
                        ms(pick(bare_s)),
                        "bare app on the same server, same bytes",
                        ms(pick(real_samples[label])) if label in real_samples else None,
                        "1.2x at p50" if stat == "p50" else "",
                    )
                )
    # In-process: the app alone, no socket.
    fake = FakeBBS()
    in_process = _interleaved(
        {
            "fake": lambda request: call_in_process(fake.wsgi_app, request),
            "bare": lambda request: call_in_process(canned, request),
        },
        "bench-in-process",
        sizes.calls,
    )
    for label in CALL_LABELS:
        figures.append(
            Figure(
                "per call, in-process",
                f"{label} p50",
                "ms",
                ms(p50(in_process["fake"][label])),
                ms(p50(in_process["bare"][label])),
                "bare app, same bytes",
            )
        )
    return figures


def _pings(conns: dict[str, RawConnection], count: int, block: int = 10) -> dict[str, list[float]]:
    """Ping over each connection, in alternating blocks; the samples per connection."""
    ping = make_request("ping", "Ping")
    samples: dict[str, list[float]] = {name: [] for name in conns}
    done = 0
    while done < count:
        size = min(block, count - done)
        for name, conn in conns.items():
            samples[name].extend(conn.timed(ping) for _ in range(size))
        done += size
    return samples


def server_layer(sizes: Sizes) -> list[Figure]:
    """Where a call's time goes: cheroot alone, fakebbs's server layer, the app, the CLI's
    request log (``fakebbs serve`` logs every request to stderr, here a pipe read as it fills)."""
    canned = Canned()
    record_answers(FakeBBS().wsgi_app, canned, "layers")
    section = "server layer, ping p50 over one keep-alive connection"
    with ExitStack() as stack:
        urls = {
            "cheroot": stack.enter_context(plain_cheroot(canned)),
            "server": stack.enter_context(bare_server(canned)),
            "fake": stack.enter_context(FakeBBS().serve()).url,
            "child": stack.enter_context(child_server("fake")),
            "cli": stack.enter_context(cli_server()),
        }
        conns = {name: RawConnection(url) for name, url in urls.items()}
        for conn in conns.values():
            stack.callback(conn.close)
        medians = {name: ms(p50(samples)) for name, samples in _pings(conns, sizes.calls).items()}
    bare = "bare app on plain cheroot"
    return [
        Figure(section, "bare app on fakebbs's server (no BBS app)", "ms", medians["server"],
               medians["cheroot"], bare),
        Figure(section, "FakeBBS().serve()", "ms", medians["fake"], medians["cheroot"], bare,
               target="1.2x"),
        Figure(section, "fakebbs serve, request log on (child process)", "ms", medians["cli"],
               medians["child"], "FakeBBS().serve() in a child process, log off"),
    ]  # fmt: skip
