"""The ``fakebbs`` command line's parser: its commands, flags, help texts and value types.

``fakebbs.cli`` builds it with the functions that run each command, parses, checks the rules
between flags, and runs the command.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from fakebbs._control.journal import DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_SIZE
from fakebbs._rules.tasks import DEFAULT_MAX_TASK_RETRIES

__all__ = ["build_parser"]

_MAX_INTERVAL = 86400.0  # a day: longer means "never", which is 0
_MAX_RETRIES = 2**31 - 1  # upstream keeps the count in an int32
_LOG_LEVELS = ("debug", "info", "warning", "error")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the message and where to look), not the whole
    usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(
    *,
    serve: Callable[[argparse.Namespace], int],
    ping: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """The parser of ``fakebbs``'s command line: ``serve``, ``ping``, and the fidelity
    commands (``record``, ``replay``); each command's ``run`` default is the function that
    runs it, its ``parser`` the subparser (for usage errors found after parsing)."""
    parser = _Parser(
        prog="fakebbs",
        description="An in-memory fake of Cloud Foundry Diego's BBS, for tests.",
        epilog="Also installed: python -m fakebbs.bench (benchmarks: each figure beside a bare "
        "WSGI app's) and python -m fakebbs.stress (a bounded load from another process, "
        "checked for lost writes and missed events); each takes --help.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"fakebbs {_version()}")
    commands = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=_Parser
    )
    serve_command = commands.add_parser(
        "serve",
        help="serve a fake BBS, empty or seeded from a JSON file (--seed), until SIGINT or SIGTERM",
        description=(
            "Serve a fake BBS, empty or with the state a JSON seed file describes (--seed), over "
            "HTTP/1.1 (keep-alive), or HTTPS with --cert/--key or --generate-certs, until SIGINT "
            "or SIGTERM. Prints 'fakebbs listening on URL' to stdout once it accepts "
            "connections; logs one line per request to stderr."
        ),
    )
    serve_command.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    serve_command.add_argument(
        "--port",
        type=_port,
        default=8889,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    serve_command.add_argument(
        "--converge-interval",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="run a convergence pass every SECONDS (at most a day), as the real BBS does every "
        "30 s; 0, the default, never runs one by itself: a test usually wants to decide when "
        "state changes",
    )
    serve_command.add_argument(
        "--max-task-retries",
        type=_count,
        default=DEFAULT_MAX_TASK_RETRIES,
        metavar="N",
        help="rejections a task survives before it fails (default: %(default)s, as "
        "diego-release configures the BBS)",
    )
    serve_command.add_argument(
        "--admin",
        action="store_true",
        help="serve the admin API (/fakebbs/v1/) on a non-loopback --host too; on a loopback "
        "address it is always on",
    )
    serve_command.add_argument(
        "--manual-clock",
        action="store_true",
        help="start every namespace's clock frozen (and freeze it again after a reset): time "
        "moves only through the admin API's /fakebbs/v1/clock/advance",
    )
    serve_command.add_argument(
        "--call-reps",
        action="store_true",
        help="send the calls the BBS makes to cells' reps (stop, update, cancel) to each cell "
        "presence's rep URL (default: only record them)",
    )
    serve_command.add_argument(
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
            serve_command.add_argument(
                f"--{who}-{what}", metavar="FILE", help=f"the {who}s' {meaning}"
            )
    serve_command.add_argument(
        "--rep-require-tls",
        action="store_true",
        help="call reps only over TLS (their https rep URL), as the BBS's rep_require_tls",
    )
    serve_command.add_argument(
        "--auctioneer-require-tls",
        action="store_true",
        help="never retry a start request over plain HTTP when TLS fails, as the BBS's "
        "auctioneer_require_tls",
    )
    tls = serve_command.add_argument_group(
        "TLS",
        "The real BBS serves mutual TLS only: give --cert and --key (and --ca to require client "
        "certificates signed by that CA), or let --generate-certs make a throwaway set. As the "
        "BBS does, task completion callbacks to https URLs present the same certificate and "
        "verify the receiver with the same CA (the system's trust store without --ca).",
    )
    tls.add_argument(
        "--cert", "--cert-file", type=Path, metavar="FILE", help="server certificate (PEM)"
    )
    tls.add_argument(
        "--key", "--key-file", type=Path, metavar="FILE", help="server private key (PEM)"
    )
    tls.add_argument(
        "--ca",
        "--ca-file",
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
    logs = serve_command.add_argument_group("logging").add_mutually_exclusive_group()
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
    limits = serve_command.add_argument_group(
        "limits", "What one shared server may hold; each bound applies per namespace."
    )
    limits.add_argument(
        "--journal-size",
        type=_count,
        default=DEFAULT_JOURNAL_SIZE,
        metavar="N",
        help="calls each journal keeps (requests, rep calls, auctioneer calls), dropping the "
        "oldest; 0 turns the journals off (default: %(default)s)",
    )
    limits.add_argument(
        "--journal-bytes",
        type=_byte_count,
        default=DEFAULT_JOURNAL_BYTES,
        metavar="BYTES",
        help="bytes of requests and responses each journal keeps, dropping the oldest calls; "
        "a number, or with a K, M or G suffix (KiB, MiB, GiB); 0 turns the journals off "
        "(default: 64M)",
    )
    limits.add_argument(
        "--max-namespaces",
        type=_count,
        default=None,
        metavar="N",
        help="namespaces made at most besides the default one; a request that would make "
        "another is answered 429 until one is dropped (default: 1000)",
    )
    state = serve_command.add_argument_group(
        "state",
        "Keep the state across restarts: every namespace's desired and actual LRPs, tasks, "
        "domains and cells (not journals, fault rules or clocks).",
    )
    state.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="load every namespace's state from FILE at start (if it exists; a file that is "
        "not a state file is refused, untouched) and write it there atomically on stop, on "
        "POST /fakebbs/v1/save and every --state-interval",
    )
    state.add_argument(
        "--state-interval",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="also write the state file every SECONDS (at most a day), so a kill -9 loses at "
        "most that much; 0, the default: only on stop and on POST /fakebbs/v1/save",
    )
    serve_command.add_argument(
        "--cells",
        type=_count,
        default=0,
        metavar="N",
        help="simulate N Diego cells (cell-1 ... cell-N over zones z1-z3) with their reps and "
        "an auctioneer, acting as changes happen: desired instances run, tasks complete "
        '(default: none; a seed file\'s "diego" section adds cells too)',
    )
    serve_command.add_argument(
        "--seed",
        metavar="FILE",
        help="start every namespace with the state a JSON seed file describes (see the "
        "README); a bad file is refused before anything is served",
    )
    serve_command.set_defaults(run=serve, parser=serve_command)
    ping_command = commands.add_parser(
        "ping",
        help="check that a BBS at URL answers (one line; exit status 0 or 1)",
        description="POST the BBS ping to URL and say in one line whether it answered: on "
        "stdout with exit status 0 when it did, on stderr with exit status 1 when not.",
    )
    ping_command.add_argument("url", metavar="URL", help="the BBS, e.g. http://127.0.0.1:8889")
    ping_command.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="give up after SECONDS (default: %(default)s)",
    )
    ping_tls = ping_command.add_argument_group(
        "TLS", "For an https URL, as serve takes them: the files of the client's side."
    )
    ping_tls.add_argument(
        "--ca", type=Path, metavar="FILE", help="CA certificate (PEM) to verify the server with"
    )
    ping_tls.add_argument("--cert", type=Path, metavar="FILE", help="client certificate (PEM)")
    ping_tls.add_argument("--key", type=Path, metavar="FILE", help="client private key (PEM)")
    ping_command.set_defaults(run=ping, parser=ping_command)
    from fakebbs._fidelity.cli import add_commands

    add_commands(commands)  # record, replay
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


_BYTE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _byte_count(text: str) -> int:
    number, suffix = text[:-1], text[-1:].upper()
    if suffix.isdigit():
        number, suffix = text, ""
    if suffix not in _BYTE_SUFFIXES or not number.isascii() or not number.isdigit():
        raise argparse.ArgumentTypeError(
            f"not a number of bytes (digits, with an optional K, M or G): {text!r}"
        )
    return int(number) * _BYTE_SUFFIXES[suffix]
