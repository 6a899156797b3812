"""A TLS handshake on an accepted connection: how it ends, what is logged, what the app sees.

The request gatherer (``fakebbs._http.idle``) drives handshakes without blocking; a worker then
finishes one that is still due, or reports one that failed, through ``complete``. Nothing here
knows cheroot: the connection class that calls it lives in ``fakebbs._http.cheroot``.
"""

from __future__ import annotations

import logging
import socket
import ssl
from contextlib import suppress
from typing import Any

__all__ = ["PLAIN_HTTP_TO_TLS", "complete", "tls_environ", "tls_reason"]

logger = logging.getLogger("fakebbs.server")

PLAIN_HTTP_TO_TLS = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 48\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"Client sent an HTTP request to an HTTPS server.\n"
)
"""What Go's server answers, on the raw socket, to plain HTTP sent to its TLS port."""


def complete(
    sock: ssl.SSLSocket,
    peer: str,
    *,
    failure: OSError | None,
    handshake_timeout: float,
    io_timeout: float,
) -> bool:
    """Finish the handshake on ``sock`` (or report ``failure``, met earlier); False when the
    connection is to be closed (it was logged: a refused client at WARNING, in one line)."""
    try:
        if failure is not None:
            raise failure
        sock.settimeout(handshake_timeout)
        sock.do_handshake()
        sock.settimeout(io_timeout)
    except (ssl.SSLEOFError, ConnectionError) as exc:
        # The client went away before saying anything (stop() wakes its loop like that).
        logger.debug("TLS handshake with %s failed: %s", peer, exc)
        return False
    except ssl.SSLError as exc:
        if "http request" in str(exc).lower():
            _answer_plain_http(sock)
            logger.warning("refused %s: plain HTTP sent to the TLS port", peer)
        else:
            logger.warning("refused %s: TLS handshake failed: %s", peer, tls_reason(exc))
        return False
    except OSError as exc:
        logger.warning("refused %s: TLS handshake failed: %s", peer, exc)
        return False
    return True


def _answer_plain_http(sock: ssl.SSLSocket) -> None:
    # Like Go's server: a plain-text 400 on the raw socket (the TLS layer never came up).
    # Then read what the client still sends, so closing does not reset the connection
    # before the client has read the answer.
    with suppress(OSError):
        socket.socket.sendall(sock, PLAIN_HTTP_TO_TLS)
        socket.socket.shutdown(sock, socket.SHUT_WR)
        socket.socket.settimeout(sock, 1.0)
        while socket.socket.recv(sock, 65536):
            pass


def tls_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason for a failed handshake, in a few words (``PEER_DID_NOT_RETURN_A_
    CERTIFICATE``, ``CERTIFICATE_VERIFY_FAILED``, ...) rather than the whole error tuple."""
    reason = getattr(exc, "reason", None)
    detail = getattr(exc, "verify_message", None)
    if reason and detail:
        return f"{reason} ({detail})"
    return str(reason or exc)


def tls_environ(sock: ssl.SSLSocket) -> dict[str, Any]:
    """What the WSGI environ says about a TLS connection (mod_ssl's names, as cheroot uses)."""
    name, protocol, _ = sock.cipher() or ("", "", 0)
    verified = sock.context.verify_mode != ssl.CERT_NONE and sock.getpeercert()
    return {
        "wsgi.url_scheme": "https",
        "HTTPS": "on",
        "SSL_PROTOCOL": protocol,
        "SSL_CIPHER": name,
        "SSL_CLIENT_VERIFY": "SUCCESS" if verified else "NONE",
    }
