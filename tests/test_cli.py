"""fakebbs.cli: ``fakebbs serve`` as a real process, and the argument parser in-process."""

from __future__ import annotations

import http.client
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from builders import desired_lrp
from fakebbs import BBSClient, models
from fakebbs.cli import main

TIMEOUT = 10.0
LISTENING = re.compile(r"fakebbs listening on http://127\.0\.0\.1:(\d+)\n")


def readline(proc: subprocess.Popen[str], timeout: float = TIMEOUT) -> str:
    """The next stdout line of ``proc``, failing the test instead of blocking forever."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail(f"no line on stdout within {timeout}s")
    return proc.stdout.readline()


def spawn(*args: str) -> subprocess.Popen[str]:
    # -W error: a warning in the command is a failure here, as in the test suite.
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "fakebbs", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def serving() -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """``python -m fakebbs serve --port 0``, started: (process, its first line, its port)."""
    with spawn("serve", "--port", "0") as proc:
        try:
            line = readline(proc)
            match = LISTENING.fullmatch(line)
            assert match, f"unexpected first line {line!r}"
            yield proc, line, int(match.group(1))
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=TIMEOUT)


def ping(port: int) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/v1/ping", body=b"")
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_prints_one_line_serves_logs_and_exits_0_on_signal(
    serving: tuple[subprocess.Popen[str], str, int], signum: signal.Signals
) -> None:
    proc, first_line, port = serving
    status, content_type, body = ping(port)
    assert (status, content_type) == (200, "application/x-protobuf")
    assert body == b"\x08\x01"  # PingResponse{available: true}

    proc.send_signal(signum)
    rest_of_stdout, stderr = proc.communicate(timeout=TIMEOUT)

    assert proc.returncode == 0, stderr
    assert first_line + rest_of_stdout == first_line  # exactly one line on stdout
    assert '"POST /v1/ping HTTP/1.1" 200' in stderr
    assert f"{signum.name} received, stopping" in stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()


def test_serve_keeps_connections_alive(serving: tuple[subprocess.Popen[str], str, int]) -> None:
    _, _, port = serving
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/v1/ping")
        conn.getresponse().read()
        sock = conn.sock
        conn.request("POST", "/v1/ping")
        assert conn.getresponse().status == 200
        assert conn.sock is sock
    finally:
        conn.close()


def test_serve_on_a_port_in_use_exits_1_with_a_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with spawn("serve", "--port", str(port)) as proc:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 1
    assert stdout == ""
    assert f"fakebbs: cannot listen on 127.0.0.1:{port}: " in stderr


def test_help_lists_the_serve_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fakebbs ")
    assert "serve" in out


def test_serve_help_documents_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--host HOST" in out
    assert "--port PORT" in out
    assert "default: 8889" in out


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: fakebbs" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["http", "-1", "65536"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", port]) == 2
    assert f"not a port number (0-65535): '{port}'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [["--converge-interval", "-1"], ["--converge-interval", "soon"], ["--max-task-retries", "-2"]],
)
def test_serve_refuses_bad_numbers(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *args]) == 2
    assert "fakebbs serve: error" in capsys.readouterr().err


def test_serve_converges_on_the_interval_it_is_given() -> None:
    with spawn("serve", "--port", "0", "--converge-interval", "0.05") as proc:
        try:
            match = LISTENING.fullmatch(readline(proc))
            assert match
            with BBSClient(f"http://127.0.0.1:{match.group(1)}", timeout=TIMEOUT) as bbs:
                bbs.desire_lrp(desired_lrp("web", instances=1))
                key = models.ActualLRPKey(process_guid="web", index=0, domain="cf-apps")
                with bbs.subscribe_to_instance_events() as events:
                    # The desired state still wants index 0, so the next pass creates it again.
                    bbs.retire_actual_lrp(key)
                    removed = events.next(timeout=TIMEOUT)
                    created = events.next(timeout=TIMEOUT)
            assert isinstance(removed, models.ActualLRPInstanceRemovedEvent)
            assert isinstance(created, models.ActualLRPInstanceCreatedEvent)
            assert created.actual_lrp.actual_lrp_key == key
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=TIMEOUT)
