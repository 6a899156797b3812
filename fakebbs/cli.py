"""The ``fakebbs`` command: ``fakebbs serve`` runs a fake BBS (empty, or seeded from a JSON file
with ``--seed``) until SIGINT or SIGTERM; ``fakebbs ping URL`` says whether a BBS answers.

Once it accepts connections it prints ``fakebbs listening on URL`` as its first line on stdout,
so a wrapper script can wait for that line and read the port from it (``--port 0`` picks a free
one). With ``--generate-certs`` the paths of the certificates follow, one ``name: path`` line
each; then, where the admin API is on, ``admin: URL`` and ``ui: URL`` (the live page).
Everything else (one line per request, refused TLS clients, errors) goes to stderr.

Exit status: 0 after SIGINT or SIGTERM (open event streams are ended first), 2 for a bad flag or
value (one ``fakebbs serve: error: ...`` line) or a seed or state file it cannot load, 1 when it
cannot listen, write certificates or, on stop, write the ``--state`` file. ``fakebbs ping``
prints one line and exits 0 when the BBS answers, 1 when it does not.
"""

from __future__ import annotations

import argparse
import errno
import logging
import math
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from fakebbs._cli_parser import build_parser
from fakebbs._standalone.log_writer import BackgroundHandler

if TYPE_CHECKING:
    from fakebbs._outbound.calls import ClientTLS
    from fakebbs._standalone.namespaces import Namespaces
    from fakebbs.tls import Certificates

__all__ = ["main"]

logger = logging.getLogger("fakebbs.cli")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_SIGNAL_CHECK_SECONDS = 0.2  # how often the main thread looks for a signal
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.run is _serve:
            _check_serve(args, args.parser)
        elif args.run is _ping:
            _check_ping(args, args.parser)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    status: int = args.run(args)
    return status


def _parser() -> argparse.ArgumentParser:
    """The command line's parser, each command's ``run`` set to the function below."""
    return build_parser(serve=_serve, ping=_ping)


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
    from fakebbs._outbound.calls import ClientTLS

    ca_file, cert_file, key_file = files
    return ClientTLS(ca_file, cert_file, key_file, require=require)


def _callback_tls(args: argparse.Namespace) -> ClientTLS | None:
    """The completion callbacks' client TLS: the server's own certificate, key and CA, as
    upstream's main.go hands the BBS's TLS config to its task callback work pool."""
    certificates: Certificates | None = getattr(args, "certificates", None)
    if certificates is not None:
        cert, key, ca = certificates.server_cert, certificates.server_key, certificates.ca_cert
    else:
        cert, key, ca = args.cert, args.key, args.ca
    if cert is None or key is None:
        return None
    from fakebbs._outbound.calls import ClientTLS

    return ClientTLS("" if ca is None else str(ca), str(cert), str(key))


def _check_serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The rules between flags, and TLS files that can be loaded; a usage error otherwise."""
    if args.state_interval > 0 and args.state is None:
        parser.error("--state-interval needs --state FILE")
    if args.state is not None and not args.state.parent.is_dir():
        parser.error(f"--state {str(args.state)!r}: no such directory {str(args.state.parent)!r}")
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
            parser.error(f"cannot use --cert/--key/--ca: {_tls_reason(exc)}")


def _server_context(cert: Path, key: Path, ca: Path | None) -> ssl.SSLContext:
    from fakebbs.tls import server_context

    return server_context(cert, key, ca)


def _tls_reason(exc: BaseException) -> str:
    """Why TLS files cannot be used, with a hint where OpenSSL's words are cryptic."""
    reason = _reason(exc)
    if reason == "KEY_VALUES_MISMATCH":
        return (
            "--key is not the private key of --cert's certificate (KEY_VALUES_MISMATCH): "
            "give the key the certificate was made with"
        )
    return reason


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
    return str(reason or exc)


def _listen_failure(exc: OSError) -> str:
    """Why ``serve`` cannot listen, in words (cheroot wraps the socket error in its text)."""
    if exc.errno == errno.EADDRINUSE or f"[Errno {errno.EADDRINUSE}]" in str(exc):
        return (
            "the address is already in use (another server on that port?); "
            "--port 0 picks a free port"
        )
    return _reason(exc)


def _check_ping(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """A URL a BBS client takes, and TLS files that load; a usage error otherwise."""
    from urllib.parse import urlsplit

    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"expected an http or https URL, got {args.url!r}")
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    given = [f"--{f}" for f in ("ca", "cert", "key") if getattr(args, f) is not None]
    if given and parts.scheme != "https":
        parser.error(f"TLS flags need an https URL ({', '.join(given)} given for {args.url})")
    args.ssl_context = None
    if parts.scheme == "https":
        try:
            context = ssl.create_default_context(cafile=args.ca)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if args.cert is not None:
                context.load_cert_chain(args.cert, args.key)
        except (OSError, ssl.SSLError, ValueError) as exc:
            parser.error(f"cannot use --ca/--cert/--key: {_tls_reason(exc)}")
        args.ssl_context = context


def _ping(args: argparse.Namespace) -> int:
    from fakebbs.client import BBSClient

    url: str = args.url.rstrip("/")
    try:
        with BBSClient(url, ssl_context=args.ssl_context, timeout=args.timeout) as client:
            response = client.call("Ping", None)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is the answer
        print(f"fakebbs ping: {url}: no answer: {_reason(exc)}", file=sys.stderr)
        return 1
    if not getattr(response, "available", False):
        print(f"fakebbs ping: {url}: answered, but not available", file=sys.stderr)
        return 1
    version = _fakebbs_version(url, args.ssl_context, args.timeout)
    who = "a BBS" if version is None else f"fakebbs {version}"
    print(f"{url}: {who} answers the BBS ping")
    return 0


def _fakebbs_version(url: str, context: ssl.SSLContext | None, timeout: float) -> str | None:
    """The version a fakebbs admin API reports at ``url``; None from anything else."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(
            f"{url}/fakebbs/v1/version", timeout=timeout, context=context
        ) as answer:
            version = json.load(answer).get("fakebbs")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


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
    from fakebbs._standalone.diego_config import load_config
    from fakebbs._standalone.namespaces import is_loopback
    from fakebbs._standalone.seedfile import SeedFileError, load_seed_file, seed_snapshot
    from fakebbs._standalone.served import served_namespaces

    rep_tls = _client_tls(args, "rep")
    auctioneer_tls = _client_tls(args, "auctioneer")
    callback_tls = _callback_tls(args)

    def make_fake(name: str = "") -> FakeBBS:
        return FakeBBS(
            namespace=name,
            max_task_retries=args.max_task_retries,
            call_reps=args.call_reps,
            auctioneer_url=args.auctioneer_url,
            rep_tls=rep_tls,
            auctioneer_tls=auctioneer_tls,
            callback_tls=callback_tls,
            journal_size=args.journal_size,
            journal_bytes=args.journal_bytes,
        )

    seed = None
    if args.seed is not None:
        seed = seed_snapshot(load_seed_file(args.seed), make_fake, f"seed file {args.seed}")
    try:
        diego = load_config(args.cells, args.seed)
    except ValueError as exc:
        raise SeedFileError(str(exc)) from None
    limit = {} if args.max_namespaces is None else {"max_namespaces": args.max_namespaces}
    return served_namespaces(
        make_fake,
        admin=args.admin or is_loopback(args.host),
        seed=seed,
        manual_clock=args.manual_clock,
        setup=(lambda fake: diego.apply(fake.diego)) if diego else None,
        state_file=args.state,
        **limit,
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
    from fakebbs._control.statefile import StateFileError
    from fakebbs._standalone.seedfile import SeedFileError

    ssl_context: ssl.SSLContext | None = getattr(args, "ssl_context", None)
    certificates = None
    if args.generate_certs is not None:
        certificates = args.certificates = _generate(args.generate_certs)
        if certificates is None:
            return 1
        ssl_context = certificates.server_context()
    try:
        namespaces = _namespaces(args)
        namespaces.load_state()
    except (SeedFileError, StateFileError) as exc:  # one line, before anything is served
        print(f"fakebbs: {exc}", file=sys.stderr)
        return 2
    try:
        server = namespaces.serve(args.host, args.port, ssl_context=ssl_context)
    except OSError as exc:
        print(
            f"fakebbs: cannot listen on {args.host}:{args.port}: {_listen_failure(exc)}",
            file=sys.stderr,
        )
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
        warning = _exposure(args.host, ssl_context, namespaces.admin)
        if warning:
            print(f"fakebbs: warning: {warning}", file=sys.stderr, flush=True)
        saver = None
        if args.state is not None and args.state_interval > 0:
            saver = threading.Thread(
                target=_save_every,
                args=(namespaces, args.state_interval, stop),
                name="fakebbs-state",
                daemon=True,
            )
            saver.start()
        _wait_for_stop(stop, args.converge_interval, namespaces.converge)
        logger.info("%s received, stopping", received[0] if received else "signal")
        if saver is not None:
            saver.join()
    if args.state is not None:  # after the server stopped: no write is in flight
        try:
            count, size = namespaces.save_state()
        except OSError as exc:
            print(f"fakebbs: cannot write the state file {args.state}: {exc}", file=sys.stderr)
            return 1
        logger.info("saved %d namespace(s) to %s (%d bytes)", count, args.state, size)
    return 0


def _wait_for_stop(stop: threading.Event, interval: float, converge: Callable[[], None]) -> None:
    """Until ``stop``, run ``converge`` every ``interval`` seconds (0: never). Never one long
    wait: a signal the kernel hands to another thread sets Python's flag but does not wake the
    main thread, which alone runs the handler (``fakebbs serve`` then missed a SIGTERM now and
    then); so the main thread looks at least every ``_SIGNAL_CHECK_SECONDS``."""
    due = time.monotonic() + interval if interval > 0 else math.inf
    while not stop.wait(min(_SIGNAL_CHECK_SECONDS, max(due - time.monotonic(), 0.0))):
        if time.monotonic() >= due:
            converge()
            due = time.monotonic() + interval


def _save_every(namespaces: Namespaces, interval: float, stop: threading.Event) -> None:
    """``--state-interval``: save the state every ``interval`` seconds until ``stop``."""
    while not stop.wait(interval):
        try:
            namespaces.save_state()
        except OSError as exc:
            logger.error("cannot write the state file %s: %s", namespaces.state_file, exc)


def _exposure(host: str, ssl_context: ssl.SSLContext | None, admin: bool) -> str:
    """What a bind to ``host`` exposes, in one line; "" for a loopback address."""
    from fakebbs._standalone.namespaces import is_loopback

    if is_loopback(host):
        return ""
    if ssl_context is None:
        how = "over plain HTTP, with no authentication"
    elif ssl_context.verify_mode == ssl.CERT_NONE:
        how = "over TLS without client certificates, so with no authentication"
    else:
        how = "over mutual TLS (to clients with a certificate its CA signed)"
    api = ", the admin API included (--admin)" if admin else ""
    return f"{host} is not a loopback address: other machines can call this fake BBS {how}{api}"


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
