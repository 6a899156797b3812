"""Mutual TLS as the real BBS serves it: throwaway certificates and the two ``ssl`` contexts.

The BBS listens on mutual TLS only: it requires a client certificate signed by its CA, and the
Go client offers TLS 1.2 with ECDHE-RSA AES-GCM ciphers (so the server key must be RSA) or 1.3.

>>> certs = generate_certificates(tmp_path)  # doctest: +SKIP
>>> server = FakeBBS().serve(ssl_context=certs.server_context())  # doctest: +SKIP
>>> BBSClient(server.url, ssl_context=certs.client_context())  # doctest: +SKIP

``generate_certificates`` needs ``trustme`` (``pip install 'fakebbs[tls]'``); the context
builders need only the standard library, for certificates made any other way.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trustme

__all__ = [
    "SERVER_HOSTS",
    "Certificates",
    "client_context",
    "generate_certificates",
    "server_context",
]

SERVER_HOSTS = ("127.0.0.1", "::1", "localhost")
"""The names a generated server certificate is valid for."""

_TLS12_CIPHERS = "ECDHE+AESGCM"
"""TLS 1.2 suites offered: ECDHE key exchange with AES-GCM, which covers the two the Go BBS
client allows (ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256). TLS 1.3 suites are
OpenSSL's defaults."""


@dataclass(frozen=True)
class Certificates:
    """The PEM files ``generate_certificates`` wrote: a CA, a server and a client identity."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self, *, require_client_cert: bool = True) -> ssl.SSLContext:
        """The server's context; by default it requires a client certificate from the CA."""
        return server_context(
            self.server_cert, self.server_key, self.ca_cert if require_client_cert else None
        )

    def client_context(self, *, with_client_cert: bool = True) -> ssl.SSLContext:
        """A client's context trusting the CA, presenting the client certificate by default."""
        if not with_client_cert:
            return client_context(self.ca_cert)
        return client_context(self.ca_cert, self.client_cert, self.client_key)


def generate_certificates(directory: str | os.PathLike[str]) -> Certificates:
    """Write a fresh CA, a server certificate (for ``SERVER_HOSTS``) and a client certificate
    into ``directory`` (created if missing; existing files of the same names are replaced).

    Keys are RSA, as the Go client's TLS 1.2 suites need; private keys are readable by the
    owner only. Raises ``ImportError`` without trustme, ``OSError`` if a file cannot be written.
    """
    try:
        import trustme
    except ImportError as exc:
        raise ImportError(
            "generating certificates needs trustme: pip install 'fakebbs[tls]'"
        ) from exc

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    rsa = trustme.KeyType.RSA
    ca = trustme.CA(organization_name="fakebbs", key_type=rsa)
    server = ca.issue_cert(*SERVER_HOSTS, common_name="fakebbs server", key_type=rsa)
    client = ca.issue_cert("fakebbs-client", common_name="fakebbs client", key_type=rsa)
    certificates = Certificates(
        ca_cert=folder / "ca.crt",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        client_cert=folder / "client.crt",
        client_key=folder / "client.key",
    )
    ca.cert_pem.write_to_path(str(certificates.ca_cert))
    _write_identity(server, certificates.server_cert, certificates.server_key)
    _write_identity(client, certificates.client_cert, certificates.client_key)
    return certificates


def _write_identity(leaf: trustme.LeafCert, cert: Path, key: Path) -> None:
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.touch(mode=0o600, exist_ok=True)
    key.chmod(0o600)  # before the key is in it
    key.write_bytes(leaf.private_key_pem.bytes())


def server_context(
    cert_file: str | os.PathLike[str],
    key_file: str | os.PathLike[str],
    ca_file: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A server context serving ``cert_file``/``key_file`` over TLS 1.2 (ECDHE, AES-GCM) and
    1.3; with ``ca_file``, every client must present a certificate that CA signed, as the BBS
    requires. Raises ``OSError``/``ssl.SSLError`` for a file that is missing or not PEM."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    context.load_cert_chain(cert_file, key_file)
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(
    ca_file: str | os.PathLike[str],
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> ssl.SSLContext:
    """A client context that verifies the server against ``ca_file`` and, given
    ``cert_file``/``key_file``, presents that client certificate."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context
