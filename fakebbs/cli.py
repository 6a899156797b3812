"""The ``fakebbs`` command: ``fakebbs serve`` runs an empty fake BBS until SIGINT or SIGTERM.

Once it accepts connections it prints ``fakebbs listening on URL`` as its first line on stdout,
so a wrapper script can wait for that line and read the port from it (``--port 0`` picks a free
one). With ``--generate-certs`` the paths of the certificates follow, one ``name: path`` line
each; then, where the admin API is on, ``admin: URL`` and ``ui: URL`` (the live page).
Everything else (one line per request, refused TLS clients, errors) goes to stderr.

Exit status: 0 after SIGINT or SIGTERM (open event streams are ended first), 2 for a bad flag or
value (one ``fakebbs serve: error: ...`` line), 1 when it cannot listen or write certificates.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import ssl
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from fakebbs._log_writer import BackgroundHandler
from fakebbs._tasks import DEFAULT_MAX_TASK_RETRIES

if TYPE_CHECKING:
    from fakebbs._namespaces import Namespaces
    from fakebbs._outbound import ClientTLS
    from fakebbs.tls import Certificates

__all__ = ["main"]

logger = logging.getLogger("fakebbs.cli")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_MAX_INTERVAL = 86400.0  # a day: longer means "never", which is 0
_MAX_RETRIES = 2**31 - 1  # upstream keeps the count in an int32
_LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.run is _serve:
            _check_serve(args, args.parser)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    status: int = args.run(args)
    return status


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the message and where to look), not the whole
    usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fakebbs",
        description="An in-memory fake of Cloud Foundry Diego's BBS, for tests.",
    )
    parser.add_argument("--version", action="version", version=f"fakebbs {_version()}")
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=_Parser
    )
    serve = commands.add_parser(
        "serve",
        help="serve an empty fake BBS until SIGINT or SIGTERM",
        description=(
            "Serve an empty fake BBS over HTTP/1.1 (keep-alive), or HTTPS with --cert/--key or "
            "--generate-certs, until SIGINT or SIGTERM. Prints 'fakebbs listening on URL' to "
            "stdout once it accepts connections; logs one line per request to stderr."
        ),
    )
    serve.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
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
        help="run a convergence pass every SECONDS (at most a day), as the real BBS does every "
        "30 s; 0, the default, never runs one by itself: a test usually wants to decide when "
        "state changes",
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
    tls = serve.add_argument_group(
        "TLS",
        "The real BBS serves mutual TLS only: give --cert and --key (and --ca to require client "
        "certificates signed by that CA), or let --generate-certs make a throwaway set.",
    )
    tls.add_argument("--cert", type=Path, metavar="FILE", help="server certificate (PEM)")
    tls.add_argument("--key", type=Path, metavar="FILE", help="server private key (PEM)")
    tls.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        help="CA certificate (PEM): require a client certificate it signed",
    )
    tls.add_argument(
        "--generate-certs",
        type=Path,
        metavar="DIR",
        help="write a CA, a server certificate (127.0.0.1, ::1, localhost) and a client "
        "certificate into DIR, serve mutual TLS with them and print their paths "
        "(needs trustme: pip install 'fakebbs[tls]')",
    )
    logs = serve.add_argument_group("logging").add_mutually_exclusive_group()
    logs.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        help="least severe messages shown on stderr; 'info' shows one line per request "
        "(default: info)",
    )
    logs.add_argument(
        "--quiet",
        action="store_const",
        dest="log_level",
        const="warning",
        help="no request lines: only warnings (refused TLS clients) and errors",
    )
    serve.add_argument(
        "--seed",
        metavar="FILE",
        help="start every namespace with the state a JSON seed file describes (see the "
        "README); a bad file is refused before anything is served",
    )
    serve.set_defaults(run=_serve, parser=serve)
    return parser


def _version() -> str:
    try:
        return metadata.version("fakebbs")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _host(text: str) -> str:
    if not text.strip() or any(char.isspace() for char in text):
        raise argparse.ArgumentTypeError(f"not a host name or address: {text!r}")
    return text


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
        seconds = math.nan
    if not 0 <= seconds <= _MAX_INTERVAL:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"not a number of seconds from 0 to {_MAX_INTERVAL:.0f}: {text!r}"
        )
    return seconds


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_RETRIES:
        raise argparse.ArgumentTypeError(f"not a whole number from 0 to {_MAX_RETRIES}: {text!r}")
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


def _check_serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The rules between flags, and TLS files that can be loaded; a usage error otherwise."""
    for who in ("rep", "auctioneer"):
        try:
            client_tls = _client_tls(args, who)
            if client_tls is not None:
                client_tls.context()  # the files load
        except (ValueError, OSError, ssl.SSLError) as exc:
            parser.error(f"cannot call the {who}s over TLS: {_reason(exc)}")
    if args.generate_certs is not None:
        given = [f for f in ("cert", "key", "ca") if getattr(args, f) is not None]
        if given:
            parser.error(f"--generate-certs cannot be combined with --{given[0]}")
        return
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    if args.ca is not None and args.cert is None:
        parser.error("--ca needs --cert and --key (the server's own identity)")
    for flag in ("cert", "key", "ca"):
        path: Path | None = getattr(args, flag)
        if path is not None and not path.is_file():
            parser.error(f"--{flag} {str(path)!r}: no such file")
    if args.cert is not None:
        try:
            args.ssl_context = _server_context(args.cert, args.key, args.ca)
        except (OSError, ssl.SSLError, ValueError) as exc:
            parser.error(f"cannot use --cert/--key/--ca: {_reason(exc)}")


def _server_context(cert: Path, key: Path, ca: Path | None) -> ssl.SSLContext:
    from fakebbs.tls import server_context

    return server_context(cert, key, ca)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or exc)


@contextmanager
def _logging_to_stderr(level: str) -> Iterator[None]:
    """Log ``fakebbs.*`` at ``level`` to stderr, written by a thread of its own: a request
    thread only queues its line, and an unread stderr pipe never stalls the server (past the
    backlog, lines are dropped and counted)."""
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler = BackgroundHandler(writer)
    root = logging.getLogger("fakebbs")
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)  # main() may run in a process that goes on (a test)
        handler.close()  # writes what is queued


def _namespaces(args: argparse.Namespace) -> Namespaces:
    """What ``serve`` serves: a fake per namespace, built as the flags say."""
    from fakebbs._fake import FakeBBS
    from fakebbs._namespaces import Namespaces, is_loopback
    from fakebbs._seedfile import load_seed_file, seed_snapshot

    rep_tls = _client_tls(args, "rep")
    auctioneer_tls = _client_tls(args, "auctioneer")

    def make_fake(name: str = "") -> FakeBBS:
        return FakeBBS(
            namespace=name,
            max_task_retries=args.max_task_retries,
            call_reps=args.call_reps,
            auctioneer_url=args.auctioneer_url,
            rep_tls=rep_tls,
            auctioneer_tls=auctioneer_tls,
        )

    seed = None
    if args.seed is not None:
        seed = seed_snapshot(load_seed_file(args.seed), make_fake, f"seed file {args.seed}")
    return Namespaces(
        make_fake,
        admin=args.admin or is_loopback(args.host),
        seed=seed,
        manual_clock=args.manual_clock,
    )


def _serve(args: argparse.Namespace) -> int:
    with _logging_to_stderr(args.log_level or "info"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    received: list[str] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    # Installed first, so a signal sent at any time (even as soon as the line is printed) is
    # never handled by the default action, which would exit with a non-zero status.
    previous = {signum: signal.signal(signum, request_stop) for signum in _STOP_SIGNALS}
    try:
        return _listen(args, stop, received)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _listen(args: argparse.Namespace, stop: threading.Event, received: list[str]) -> int:
    from fakebbs._seedfile import SeedFileError

    try:
        namespaces = _namespaces(args)
    except SeedFileError as exc:  # one line, before anything is served
        print(f"fakebbs: {exc}", file=sys.stderr)
        return 2
    ssl_context: ssl.SSLContext | None = getattr(args, "ssl_context", None)
    certificates = None
    if args.generate_certs is not None:
        certificates = _generate(args.generate_certs)
        if certificates is None:
            return 1
        ssl_context = certificates.server_context()
    try:
        server = namespaces.serve(args.host, args.port, ssl_context=ssl_context)
    except OSError as exc:
        print(f"fakebbs: cannot listen on {args.host}:{args.port}: {_reason(exc)}", file=sys.stderr)
        return 1
    with server:
        lines = [f"fakebbs listening on {server.url}"]
        if certificates is not None:
            lines += [
                f"ca_cert: {certificates.ca_cert}",
                f"client_cert: {certificates.client_cert}",
                f"client_key: {certificates.client_key}",
                f"server_cert: {certificates.server_cert}",
                f"server_key: {certificates.server_key}",
            ]
        if namespaces.admin:  # the admin API and the live page of the default namespace
            lines += [f"admin: {server.url}/fakebbs/v1/", f"ui: {server.url}/fakebbs/ui/"]
        sys.stdout.write("".join(f"{line}\n" for line in lines))  # one write: whole lines
        sys.stdout.flush()
        if args.converge_interval > 0:
            while not stop.wait(args.converge_interval):
                namespaces.converge()
        stop.wait()
        logger.info("%s received, stopping", received[0] if received else "signal")
    return 0


def _generate(directory: Path) -> Certificates | None:
    """``--generate-certs``: the certificates, or None after one line saying why not."""
    from fakebbs.tls import generate_certificates

    try:
        return generate_certificates(directory.resolve())
    except ImportError as exc:
        print(f"fakebbs: {exc}", file=sys.stderr)
    except OSError as exc:
        print(
            f"fakebbs: cannot write certificates to {str(directory)!r}: {_reason(exc)}",
            file=sys.stderr,
        )
    return None
