"""The ``fakebbs`` command: ``fakebbs serve`` runs an empty fake BBS until SIGINT or SIGTERM.

Once it accepts connections it prints exactly one line to stdout, ``fakebbs listening on URL``,
so a wrapper script can wait for that line and read the port from it (``--port 0`` picks a free
one). Everything else (one line per request, errors) goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from fakebbs._log_writer import BackgroundHandler
from fakebbs._tasks import DEFAULT_MAX_TASK_RETRIES

if TYPE_CHECKING:
    from fakebbs._namespaces import Namespaces
    from fakebbs._outbound import ClientTLS

__all__ = ["main"]

logger = logging.getLogger("fakebbs.cli")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    status: int = args.run(args)
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakebbs",
        description="An in-memory fake of Cloud Foundry Diego's BBS, for tests.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve an empty fake BBS over HTTP until SIGINT or SIGTERM",
        description=(
            "Serve an empty fake BBS over HTTP/1.1 (keep-alive) until SIGINT or SIGTERM. "
            "Prints one line, 'fakebbs listening on http://HOST:PORT', to stdout once it "
            "accepts connections; logs each request to stderr."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port",
        type=_port,
        default=8889,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    serve.add_argument(
        "--converge-interval",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="run a convergence pass every SECONDS, as the real BBS does every 30 s "
        "(default: never; a test usually wants to decide when state changes)",
    )
    serve.add_argument(
        "--max-task-retries",
        type=_count,
        default=DEFAULT_MAX_TASK_RETRIES,
        metavar="N",
        help="rejections a task survives before it fails (default: %(default)s, as "
        "diego-release configures the BBS)",
    )
    serve.add_argument(
        "--admin",
        action="store_true",
        help="serve the admin API (/fakebbs/v1/) on a non-loopback --host too; on a loopback "
        "address it is always on",
    )
    serve.add_argument(
        "--manual-clock",
        action="store_true",
        help="start every namespace's clock frozen (and freeze it again after a reset): time "
        "moves only through the admin API's /fakebbs/v1/clock/advance",
    )
    serve.add_argument(
        "--call-reps",
        action="store_true",
        help="send the calls the BBS makes to cells' reps (stop, update, cancel) to each cell "
        "presence's rep URL (default: only record them)",
    )
    serve.add_argument(
        "--auctioneer-url",
        metavar="URL",
        help="send LRP and task start requests to the auctioneer at URL (default: only record "
        "them)",
    )
    for who in ("rep", "auctioneer"):
        for what, meaning in (
            ("ca-cert", "CA certificate file to verify the server with"),
            ("client-cert", "client certificate file, for mutual TLS"),
            ("client-key", "client private key file"),
        ):
            serve.add_argument(f"--{who}-{what}", metavar="FILE", help=f"the {who}s' {meaning}")
    serve.add_argument(
        "--rep-require-tls",
        action="store_true",
        help="call reps only over TLS (their https rep URL), as the BBS's rep_require_tls",
    )
    serve.add_argument(
        "--auctioneer-require-tls",
        action="store_true",
        help="never retry a start request over plain HTTP when TLS fails, as the BBS's "
        "auctioneer_require_tls",
    )
    serve.set_defaults(run=_serve)
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {text!r}")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds (>= 0): {text!r}")
    return seconds


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number (>= 0): {text!r}")
    return int(text)


def _client_tls(args: argparse.Namespace, who: str) -> ClientTLS | None:
    """The client TLS files given for reps or the auctioneer: all three, or none."""
    files = [getattr(args, f"{who}_{what}") for what in ("ca_cert", "client_cert", "client_key")]
    require = bool(getattr(args, f"{who}_require_tls"))
    if not any(files):
        if require:
            raise ValueError(
                f"--{who}-require-tls needs --{who}-ca-cert, --{who}-client-cert and "
                f"--{who}-client-key"
            )
        return None
    if not all(files):
        raise ValueError(
            f"mutual TLS to the {who}s needs --{who}-ca-cert, --{who}-client-cert and "
            f"--{who}-client-key together"
        )
    from fakebbs._outbound import ClientTLS

    ca_file, cert_file, key_file = files
    return ClientTLS(ca_file, cert_file, key_file, require=require)


def _namespaces(args: argparse.Namespace) -> Namespaces:
    """What ``serve`` serves: a fake per namespace, built as the flags say."""
    from fakebbs._fake import FakeBBS
    from fakebbs._namespaces import Namespaces, is_loopback

    rep_tls = _client_tls(args, "rep")
    auctioneer_tls = _client_tls(args, "auctioneer")

    def make_fake(name: str) -> FakeBBS:
        return FakeBBS(
            namespace=name,
            max_task_retries=args.max_task_retries,
            call_reps=args.call_reps,
            auctioneer_url=args.auctioneer_url,
            rep_tls=rep_tls,
            auctioneer_tls=auctioneer_tls,
        )

    return Namespaces(
        make_fake, admin=args.admin or is_loopback(args.host), manual_clock=args.manual_clock
    )


def _serve(args: argparse.Namespace) -> int:
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Requests only queue their log line: an unread stderr pipe must not stall the server.
    log = BackgroundHandler(stderr)
    logging.basicConfig(level=logging.INFO, handlers=[log])
    stop = threading.Event()
    received: list[str] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    # Installed before the server starts, so a signal sent as soon as the line is printed is
    # never handled by the default action (which would exit with a non-zero status).
    previous = {signum: signal.signal(signum, request_stop) for signum in _STOP_SIGNALS}
    try:
        try:
            namespaces = _namespaces(args)
        except (ValueError, OSError, ssl.SSLError) as exc:
            print(f"fakebbs: {exc}", file=sys.stderr)
            return 2
        try:
            server = namespaces.serve(args.host, args.port)
        except OSError as exc:
            print(f"fakebbs: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        with server:
            print(f"fakebbs listening on {server.url}", flush=True)
            if args.converge_interval > 0:
                while not stop.wait(args.converge_interval):
                    namespaces.converge()
            stop.wait()
            logger.info("%s received, stopping", received[0] if received else "signal")
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        logging.getLogger().removeHandler(log)
        log.close()
