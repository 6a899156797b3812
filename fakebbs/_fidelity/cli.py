"""``fakebbs record`` and ``fakebbs replay``: check the fake against your own BBS.

``record`` puts a recording proxy (``fakebbs._fidelity.recorder``) in front of a BBS; ``replay``
replays a recording (the proxy's, or any other of its format) against a fresh fake, or a
served one, and prints every difference (``fakebbs._fidelity.replay``, the code the project's own
tests replay a real BBS's recording with).
"""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["add_commands"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def add_commands(commands: Any) -> None:
    """Add ``record`` and ``replay`` to the CLI's subcommands."""
    record = commands.add_parser(
        "record",
        help="record a BBS's answers through a proxy, for 'fakebbs replay'",
        description=(
            "Serve a recording proxy in front of the BBS at --upstream until SIGINT or SIGTERM: "
            "it forwards every call unchanged, one at a time, and answers with the BBS's "
            "answer; then it writes each call, the normalized answer and the events of the "
            "streams that passed through to --out (gzipped if it ends in .gz). Prints "
            "'fakebbs recording on URL' once it accepts connections. Record from an empty BBS."
        ),
    )
    record.add_argument("--upstream", required=True, metavar="URL", help="the BBS's URL")
    record.add_argument("--out", required=True, type=Path, metavar="FILE", help="the recording")
    record.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="where the proxy listens; port 0 picks a free one (default: %(default)s)",
    )
    record.add_argument(
        "--settle",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="wait this long after each call for its events before forwarding the next "
        "(default: %(default)s)",
    )
    upstream = record.add_argument_group(
        "TLS to the BBS",
        "A BBS serves mutual TLS: the CA to verify it with, and a client identity.",
    )
    upstream.add_argument("--ca", type=Path, metavar="FILE", help="CA certificate (PEM)")
    upstream.add_argument("--cert", type=Path, metavar="FILE", help="client certificate (PEM)")
    upstream.add_argument("--key", type=Path, metavar="FILE", help="client private key (PEM)")
    served = record.add_argument_group(
        "TLS to the proxy's clients",
        "Serve HTTPS as the BBS does: a server identity, and a CA whose client certificates "
        "are required.",
    )
    served.add_argument("--server-cert", type=Path, metavar="FILE", help="server certificate")
    served.add_argument("--server-key", type=Path, metavar="FILE", help="server private key")
    served.add_argument(
        "--server-ca", type=Path, metavar="FILE", help="CA certificate: require clients it signed"
    )
    record.set_defaults(run=_record, parser=record)

    replay = commands.add_parser(
        "replay",
        help="replay a recording against a fake and print every difference",
        description=(
            "Replay each sequence of a recording against a fresh fake started here (or the "
            "'fakebbs serve' at --url, reset through its admin API), compare answers and "
            "events (and, with a fake started here, the calls it makes to reps and the "
            "auctioneer) with the recorded ones, and print every difference. Exit status 1 "
            "when anything differed."
        ),
    )
    replay.add_argument("file", type=Path, metavar="FILE", help="the recording")
    replay.add_argument("--url", metavar="URL", help="a served fake (default: start one)")
    replay.add_argument("--only", metavar="N,M", help="replay only these sequence numbers")
    replay.add_argument("--ca", type=Path, metavar="FILE", help="with an https --url: CA")
    replay.add_argument("--cert", type=Path, metavar="FILE", help="client certificate")
    replay.add_argument("--key", type=Path, metavar="FILE", help="client private key")
    replay.set_defaults(run=_replay, parser=replay)


def _client_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.ca is None and args.cert is None and args.key is None:
        return None
    if (args.cert is None) != (args.key is None):
        raise ValueError("--cert and --key go together")
    from fakebbs.tls import client_context

    return client_context(args.ca, args.cert, args.key)


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"fakebbs {args.parser.prog.split()[-1]}: {message}", file=sys.stderr)
    return 2


def _record(args: argparse.Namespace) -> int:
    from fakebbs._fidelity.recorder import Recorder

    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        return _fail(args, f"--listen must be HOST:PORT, not {args.listen!r}")
    try:
        upstream_tls = _client_context(args)
        server_tls = None
        if args.server_cert is not None or args.server_key is not None:
            if args.server_cert is None or args.server_key is None:
                raise ValueError("--server-cert and --server-key go together")
            from fakebbs.tls import server_context

            server_tls = server_context(args.server_cert, args.server_key, args.server_ca)
        elif args.server_ca is not None:
            raise ValueError("--server-ca needs --server-cert and --server-key")
        recorder = Recorder(
            args.upstream,
            args.out,
            upstream_tls=upstream_tls,
            server_tls=server_tls,
            settle=args.settle,
        )
    except (OSError, ssl.SSLError, ValueError) as exc:
        return _fail(args, str(exc))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in _STOP_SIGNALS}
    try:
        try:
            server = recorder.serve(host.strip("[]"), int(port))
        except OSError as exc:
            print(f"fakebbs record: cannot reach the BBS or listen: {exc}", file=sys.stderr)
            return 1
        print(f"fakebbs recording on {server.url}", flush=True)
        stop.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    recorder.stop()
    print(f"fakebbs recorded {recorder.calls} calls to {args.out}", flush=True)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from fakebbs._fake import FakeBBS
    from fakebbs._fidelity.recording import load_recording
    from fakebbs._fidelity.replay import Replayer

    try:
        recording = load_recording(args.file)
        context = _client_context(args)
        numbers = list(range(len(recording["sequences"])))
        if args.only:
            wanted = {int(n) for n in args.only.split(",") if n.strip()}
            numbers = [n for n in numbers if n in wanted]
    except (OSError, ValueError, ssl.SSLError) as exc:
        return _fail(args, str(exc))
    failed = 0
    fake = None if args.url else FakeBBS()
    with Replayer(recording, fake=fake, url=args.url, ssl_context=context) as replayer:
        for number in numbers:
            try:
                differences = replayer.replay(number)
            except RuntimeError as exc:
                print(f"fakebbs replay: {exc}", file=sys.stderr)
                return 2
            failed += bool(differences)
            for difference in differences:
                print(difference.report(), end="\n\n", flush=True)
        where = replayer.url if args.url else "a fresh fake"
        if not replayer.compares_outbound:
            print("(calls to reps and the auctioneer are compared only with a fake started here)")
    passed = len(numbers) - failed
    print(f"replayed {len(numbers)} sequences against {where}: {passed} passed, {failed} failed")
    return 1 if failed else 0
