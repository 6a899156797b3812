"""fakebbs.tls and ``fakebbs serve`` over TLS: generated certificates, mutual TLS as the BBS
serves it, and each refusal logged in one line.

The command is started as a real process; a client is ``http.client`` or ``BBSClient`` with
the ``ssl`` contexts ``fakebbs.tls`` builds.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import trustme
from test_cli import TIMEOUT, readline, spawn
from test_task_callbacks import definition, receiving

from fakebbs import BBSClient, FakeBBS, tls
from fakebbs.cli import main

HTTPS_LISTENING = re.compile(r"fakebbs listening on https://127\.0\.0\.1:(\d+)\n")
PING = ("POST", "/v1/ping")


@pytest.fixture
def certs(tmp_path: Path) -> tls.Certificates:
    return tls.generate_certificates(tmp_path / "certs")


def ping(port: int, context: ssl.SSLContext, host: str = "127.0.0.1") -> bytes:
    conn = http.client.HTTPSConnection(host, port, timeout=TIMEOUT, context=context)
    try:
        conn.request(*PING, body=b"")
        response = conn.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        conn.close()


# -- fakebbs.tls ---------------------------------------------------------------------------------


def test_generate_certificates_writes_a_ca_and_two_identities(tmp_path: Path) -> None:
    certs = tls.generate_certificates(tmp_path / "new" / "dir")
    files = [certs.ca_cert, certs.server_cert, certs.server_key, certs.client_cert]
    files.append(certs.client_key)
    assert sorted(path.name for path in (tmp_path / "new" / "dir").iterdir()) == sorted(
        ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"]
    )
    for path in files:
        assert path.read_bytes().startswith(b"-----BEGIN ")
    for key in (certs.server_key, certs.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert b"RSA PRIVATE KEY" in key.read_bytes() or b"BEGIN PRIVATE KEY" in key.read_bytes()


def test_generated_certificates_serve_mutual_tls_to_the_bbs_client(
    certs: tls.Certificates,
) -> None:
    with FakeBBS().serve(ssl_context=certs.server_context()) as server:
        with BBSClient(server.url, ssl_context=certs.client_context(), timeout=TIMEOUT) as bbs:
            assert bbs.ping()
        for host in ("127.0.0.1", "localhost"):  # both names are in the server certificate
            assert ping(server.port, certs.client_context(), host) == b"\x08\x01"


def test_the_server_certificate_is_valid_for_ipv6_loopback(certs: tls.Certificates) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = FakeBBS().serve("::1", ssl_context=certs.server_context())
    except OSError as exc:
        pytest.skip(f"cannot bind ::1 here: {exc}")
    with server:
        assert ping(server.port, certs.client_context(), "::1") == b"\x08\x01"


def test_a_new_directory_gets_a_new_ca(tmp_path: Path) -> None:
    first = tls.generate_certificates(tmp_path / "a")
    second = tls.generate_certificates(tmp_path / "b")
    assert first.ca_cert.read_bytes() != second.ca_cert.read_bytes()


@pytest.mark.parametrize(
    ("maximum", "cipher"),
    [
        (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-GCM-SHA384"),
        (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256"),
        (ssl.TLSVersion.TLSv1_3, None),
    ],
)
def test_the_go_clients_tls_settings_are_accepted(
    certs: tls.Certificates, maximum: ssl.TLSVersion, cipher: str | None
) -> None:
    context = certs.client_context()
    context.maximum_version = maximum
    if cipher is not None:
        context.set_ciphers(cipher)  # what the Go BBS client offers over TLS 1.2
    with FakeBBS().serve(ssl_context=certs.server_context()) as server:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)
        try:
            conn.request(*PING, body=b"")
            assert conn.getresponse().read() == b"\x08\x01"
            assert conn.sock is not None
            version, negotiated = conn.sock.version(), conn.sock.cipher()
        finally:
            conn.close()
    assert version == ("TLSv1.2" if maximum == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
    if cipher is not None:
        assert negotiated is not None and negotiated[0] == cipher


@pytest.mark.parametrize(
    "cipher",
    ["AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"],
    ids=["rsa-key-exchange", "cbc", "chacha20"],
)
def test_other_tls_1_2_suites_are_refused(certs: tls.Certificates, cipher: str) -> None:
    context = certs.client_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(cipher)
    with FakeBBS().serve(ssl_context=certs.server_context()) as server:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ping(server.port, context)


def test_server_context_without_a_ca_asks_for_no_client_certificate(
    certs: tls.Certificates,
) -> None:
    context = tls.server_context(certs.server_cert, certs.server_key)
    assert context.verify_mode == ssl.CERT_NONE
    with FakeBBS().serve(ssl_context=context) as server:
        assert ping(server.port, certs.client_context(with_client_cert=False)) == b"\x08\x01"


# -- fakebbs serve with TLS ----------------------------------------------------------------------


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    extra_lines: list[str]

    def stop(self) -> str:
        """SIGTERM; the exit status must be 0; returns stderr."""
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=TIMEOUT)
        assert self.proc.returncode == 0, stderr
        assert "Traceback" not in stderr
        return stderr


Start = Callable[..., Served]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start ``fakebbs serve --port 0 ARGS`` and read its URL line and ``extra`` lines after."""
    procs: list[subprocess.Popen[str]] = []

    def run(*args: str, extra: int = 0) -> Served:
        proc = spawn("serve", "--port", "0", *args)
        procs.append(proc)
        line = readline(proc)
        match = HTTPS_LISTENING.fullmatch(line)
        assert match, f"unexpected first line {line!r}"
        assert proc.stdout is not None  # the lines after the URL come in the same write
        return Served(proc, int(match.group(1)), [proc.stdout.readline() for _ in range(extra)])

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=TIMEOUT)


def test_generate_certs_serves_mutual_tls_and_prints_the_paths(
    start: Start, tmp_path: Path
) -> None:
    served = start("--generate-certs", str(tmp_path / "certs"), extra=5)
    paths = dict(line.rstrip("\n").split(": ", 1) for line in served.extra_lines)
    folder = tmp_path / "certs"
    assert paths == {
        "ca_cert": str(folder / "ca.crt"),
        "client_cert": str(folder / "client.crt"),
        "client_key": str(folder / "client.key"),
        "server_cert": str(folder / "server.crt"),
        "server_key": str(folder / "server.key"),
    }
    context = tls.client_context(paths["ca_cert"], paths["client_cert"], paths["client_key"])
    url = f"https://127.0.0.1:{served.port}"
    with BBSClient(url, ssl_context=context, timeout=TIMEOUT) as bbs:
        assert bbs.ping()
    stderr = served.stop()
    assert " route=Ping namespace=default status=200 result=ok " in stderr


def refusal_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "refused" in line]


def test_each_refused_client_is_one_warning_line(start: Start, tmp_path: Path) -> None:
    served = start("--generate-certs", str(tmp_path), extra=5)
    ca = tmp_path / "ca.crt"
    stranger = trustme.CA(key_type=trustme.KeyType.RSA)  # another CA's client certificate
    other = tls.client_context(ca)
    stranger.issue_cert("intruder", key_type=trustme.KeyType.RSA).configure_cert(other)

    with pytest.raises((ssl.SSLError, ConnectionError)):
        ping(served.port, tls.client_context(ca))  # no client certificate
    with pytest.raises((ssl.SSLError, ConnectionError)):
        ping(served.port, other)
    with socket.create_connection(("127.0.0.1", served.port), timeout=TIMEOUT) as plain:
        plain.sendall(b"POST /v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        answer = plain.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")

    lines = refusal_lines(served.stop())  # in any order: handshakes end in worker threads
    assert len(lines) == 3, lines
    assert all(" WARNING fakebbs.server: refused 127.0.0.1:" in line for line in lines), lines
    (other_ca,) = [line for line in lines if "CERTIFICATE_VERIFY_FAILED" in line]
    (plain_http,) = [line for line in lines if line.endswith(": plain HTTP sent to the TLS port")]
    (no_cert,) = [line for line in lines if line not in (other_ca, plain_http)]
    assert "CERTIFICATE" in no_cert  # OpenSSL's words: PEER_DID_NOT_RETURN_A_CERTIFICATE


def test_cert_key_and_ca_files_serve_mutual_tls(start: Start, certs: tls.Certificates) -> None:
    served = start(
        "--cert", str(certs.server_cert), "--key", str(certs.server_key), "--ca", str(certs.ca_cert)
    )
    assert ping(served.port, certs.client_context()) == b"\x08\x01"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        ping(served.port, certs.client_context(with_client_cert=False))
    assert len(refusal_lines(served.stop())) == 1


def test_cert_and_key_without_ca_serve_plain_tls(start: Start, certs: tls.Certificates) -> None:
    served = start("--cert", str(certs.server_cert), "--key", str(certs.server_key))
    assert ping(served.port, certs.client_context(with_client_cert=False)) == b"\x08\x01"
    assert refusal_lines(served.stop()) == []


@pytest.mark.parametrize("generated", [False, True], ids=["upstream-flag-names", "generated"])
def test_task_callbacks_to_https_urls_use_the_servers_own_tls(
    start: Start, tmp_path: Path, generated: bool
) -> None:
    """As upstream's main.go hands the BBS's TLS config to its task callback pool: the
    receiver requires a client certificate signed by the BBS's CA, and gets the callback."""
    if generated:
        served = start("--generate-certs", str(tmp_path), extra=5)
        certs = tls.Certificates(
            *(
                tmp_path / n
                for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")
            )
        )
    else:
        certs = tls.generate_certificates(tmp_path)
        served = start(
            "--cert-file",
            str(certs.server_cert),
            "--key-file",
            str(certs.server_key),
            "--ca-file",
            str(certs.ca_cert),
        )
    with receiving(certs.server_context()) as receiver:
        url = f"https://127.0.0.1:{served.port}"
        with BBSClient(url, ssl_context=certs.client_context(), timeout=TIMEOUT) as bbs:
            bbs.desire_task("t", "d", definition(receiver.url + "/test"))
            bbs.start_task("t", "cell-1")
            bbs.complete_task("t", "cell-1", failed=False, result="done")
            assert receiver.wait_for(1)
    assert [(r.method, r.path) for r in receiver.received] == [("POST", "/test")]
    served.stop()


def test_files_that_are_not_certificates_are_a_usage_error(
    certs: tls.Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["serve", "--cert", str(certs.server_key), "--key", str(certs.server_cert)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("fakebbs serve: error: cannot use --cert/--key/--ca: ")
    assert err.count("\n") == 1


def test_a_key_that_does_not_match_its_certificate_is_one_line_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tls.generate_certificates(tmp_path / "first")
    second = tls.generate_certificates(tmp_path / "second")
    assert main(["serve", "--cert", str(first.server_cert), "--key", str(second.server_key)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "fakebbs serve: error: cannot use --cert/--key/--ca: --key is not the private key of"
        " --cert's certificate (KEY_VALUES_MISMATCH): give the key the certificate was made"
        " with (see 'fakebbs serve --help')\n"
    )


def test_ping_over_mutual_tls_takes_the_flags_serve_takes(
    start: Start, certs: tls.Certificates
) -> None:
    served = start(
        "--cert", str(certs.server_cert), "--key", str(certs.server_key), "--ca", str(certs.ca_cert)
    )
    url = f"https://127.0.0.1:{served.port}"
    identity = ["--ca", str(certs.ca_cert), "--cert", str(certs.client_cert)]
    with spawn("ping", url, *identity, "--key", str(certs.client_key)) as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, stdout, stderr) == (
        0,
        f"{url}: fakebbs {metadata.version('fakebbs')} answers the BBS ping\n",
        "",
    )
    with spawn("ping", url, "--ca", str(certs.ca_cert)) as proc:  # no client certificate
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, stdout) == (1, "")
    assert stderr.startswith(f"fakebbs ping: {url}: no answer: ")
    assert stderr.count("\n") == 1
    served.stop()


def test_a_directory_that_cannot_be_written_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with spawn("serve", "--port", "0", "--generate-certs", str(blocker / "certs")) as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 1
    assert stdout == ""
    assert stderr.startswith(f"fakebbs: cannot write certificates to '{blocker / 'certs'}': ")
    assert stderr.count("\n") == 1


def test_without_trustme_generate_certs_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # makes "import trustme" fail
    assert main(["serve", "--port", "0", "--generate-certs", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "fakebbs: generating certificates needs trustme: pip install 'fakebbs[tls]'\n"
    )
    assert list(tmp_path.iterdir()) == []
