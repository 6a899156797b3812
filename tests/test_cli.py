"""fakebbs.cli: ``fakebbs serve`` as a real process, and the argument parser in-process.

TLS flags are tested in tests/test_tls.py."""

from __future__ import annotations

import http.client
import re
import selectors
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata

import pytest

from builders import desired_lrp
from fakebbs import BBSClient, cli, models
from fakebbs.cli import main
from fakebbs.errors import ResourceExists

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
    assert proc.stdout is not None
    # The URL line, then the admin API's and the live page's (on a loopback address, always),
    # written at once with it (so already read into the buffer with it).
    next_lines = proc.stdout.readline() + proc.stdout.readline()
    status, content_type, body = ping(port)
    assert (status, content_type) == (200, "application/x-protobuf")
    assert body == b"\x08\x01"  # PingResponse{available: true}

    proc.send_signal(signum)
    rest_of_stdout, stderr = proc.communicate(timeout=TIMEOUT)

    assert proc.returncode == 0, stderr
    url = f"http://127.0.0.1:{port}"
    assert next_lines == f"admin: {url}/fakebbs/v1/\nui: {url}/fakebbs/ui/\n"
    assert rest_of_stdout == ""
    assert re.search(
        r" INFO fakebbs\.server: POST /v1/ping route=Ping namespace=default status=200 "
        r"result=ok duration=\d+\.\dms client=127\.0\.0\.1:\d+\n",
        stderr,
    ), stderr
    assert f"{signum.name} received, stopping" in stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()


def test_each_request_line_names_the_bbs_result(
    serving: tuple[subprocess.Popen[str], str, int],
) -> None:
    proc, _, port = serving
    with BBSClient(f"http://127.0.0.1:{port}", timeout=TIMEOUT) as bbs:
        bbs.desire_lrp(desired_lrp("web", instances=1))
        with pytest.raises(ResourceExists):
            bbs.desire_lrp(desired_lrp("web", instances=1))
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=TIMEOUT)
    lines = [line for line in stderr.splitlines() if "route=DesireDesiredLRP " in line]
    assert len(lines) == 2, stderr
    assert " status=200 result=ok " in lines[0]
    assert " status=200 result=ResourceExists " in lines[1]


def test_a_request_line_names_the_namespace_that_served_it(
    serving: tuple[subprocess.Popen[str], str, int],
) -> None:
    proc, _, port = serving
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/ns/suite-a/v1/ping", body=b"")
        assert conn.getresponse().read() == b"\x08\x01"
        conn.request("POST", "/v1/domains/list", headers={"X-Fakebbs-Namespace": "suite-b"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=TIMEOUT)
    assert " POST /ns/suite-a/v1/ping route=Ping namespace=suite-a status=200 result=ok " in stderr
    assert " POST /v1/domains/list route=Domains namespace=suite-b status=200 result=ok " in stderr


@pytest.mark.parametrize("flags", [["--quiet"], ["--log-level", "warning"]])
def test_quiet_and_warning_levels_log_no_request_lines(flags: list[str]) -> None:
    with spawn("serve", "--port", "0", *flags) as proc:
        match = LISTENING.fullmatch(readline(proc))
        assert match
        assert ping(int(match.group(1)))[0] == 200
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0
    assert (stdout, stderr) == ("", "")


def test_a_signal_ends_open_event_streams_and_exits_0(
    serving: tuple[subprocess.Popen[str], str, int],
) -> None:
    proc, _, port = serving
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/v1/events/lrp_instances.r1", body=b"")
        response = conn.getresponse()
        assert response.status == 200
        proc.send_signal(signal.SIGTERM)
        assert response.read() == b""  # the stream ends cleanly: last chunk, no error
    finally:
        conn.close()
    _, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


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


def test_serve_on_a_port_in_use_exits_1_with_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with spawn("serve", "--port", str(port)) as proc:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 1
    assert stdout == ""
    assert stderr == (
        f"fakebbs: cannot listen on 127.0.0.1:{port}: the address is already in use"
        " (another server on that port?); --port 0 picks a free port\n"
    )


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_installed_version(flag: str) -> None:
    with spawn(flag) as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0
    assert stdout == f"fakebbs {metadata.version('fakebbs')}\n"
    assert stderr == ""


def test_help_lists_the_commands_and_the_bench_and_stress_modules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert out.startswith("usage: fakebbs ")
    assert "serve serve a fake BBS, empty or seeded from a JSON file (--seed)" in out
    assert "ping check that a BBS at URL answers" in out
    assert "-V, --version" in out
    assert "python -m fakebbs.bench" in out and "python -m fakebbs.stress" in out
    assert "an empty fake BBS" not in out


def test_ping_says_in_words_whether_the_server_answers(
    serving: tuple[subprocess.Popen[str], str, int],
) -> None:
    _, _, port = serving
    url = f"http://127.0.0.1:{port}"
    with spawn("ping", url) as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, stdout, stderr) == (
        0,
        f"{url}: fakebbs {metadata.version('fakebbs')} answers the BBS ping\n",
        "",
    )
    with spawn("ping", url + "/ns/suite-a") as proc:
        stdout, _ = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, stdout) == (
        0,
        f"{url}/ns/suite-a: fakebbs {metadata.version('fakebbs')} answers the BBS ping\n",
    )


def test_ping_of_nothing_exits_1_with_one_line() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with spawn("ping", f"http://127.0.0.1:{port}", "--timeout", "2") as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert (proc.returncode, stdout) == (1, "")
    assert stderr.startswith(f"fakebbs ping: http://127.0.0.1:{port}: no answer: ")
    assert stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ping", "127.0.0.1:8889"], "expected an http or https URL"),
        (["ping", "http://127.0.0.1:8889", "--cert", "c.crt"], "--cert and --key go together"),
        (["ping", "http://127.0.0.1:8889", "--ca", "ca.crt"], "TLS flags need an https URL"),
    ],
)
def test_a_bad_ping_is_a_usage_error(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("fakebbs ping: error: ") and says in err
    assert err.count("\n") == 1


def test_serve_help_documents_its_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag in ("--host HOST", "--port PORT", "--cert FILE", "--key FILE", "--ca FILE"):
        assert flag in out
    assert "--generate-certs DIR" in out
    assert "--log-level {debug,info,warning,error}" in out
    assert "--quiet" in out
    assert "default: 8889" in out
    assert "0, the default, never runs one by itself" in out  # --converge-interval 0


def test_a_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == (
        "fakebbs: error: the following arguments are required: COMMAND (see 'fakebbs --help')\n"
    )


@pytest.mark.parametrize("port", ["http", "-1", "65536"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", port]) == 2
    assert f"not a port number (0-65535): '{port}'" in capsys.readouterr().err


BAD_SERVE_FLAGS = [
    (["--host", ""], "argument --host: not a host name or address: ''"),
    (["--host", " "], "argument --host: not a host name or address: ' '"),
    (["--converge-interval", "-1"], "argument --converge-interval: not a number of seconds"),
    (["--converge-interval", "soon"], "argument --converge-interval: not a number of seconds"),
    (["--converge-interval", "inf"], "argument --converge-interval: not a number of seconds"),
    (["--converge-interval", "nan"], "argument --converge-interval: not a number of seconds"),
    (["--converge-interval", "1e300"], "argument --converge-interval: not a number of seconds"),
    (["--converge-interval", "86401"], "argument --converge-interval: not a number of seconds"),
    (["--max-task-retries", "-2"], "argument --max-task-retries: not a whole number"),
    (["--max-task-retries", "2147483648"], "argument --max-task-retries: not a whole number"),
    (["--max-task-retries", "\u0663"], "argument --max-task-retries: not a whole number"),
    (["--log-level", "loud"], "argument --log-level: invalid choice: 'loud'"),
    (["--quiet", "--log-level", "info"], "argument --log-level: not allowed with argument"),
    (["--log-level", "info", "--quiet"], "argument --quiet: not allowed with argument"),
    (["--cert", "cert.pem"], "--cert and --key go together"),
    (["--ca", "ca.pem"], "--ca needs --cert and --key"),
    (["--cert", "nowhere.pem", "--key", "k.pem"], "--cert 'nowhere.pem': no such file"),
    (["--generate-certs", "d", "--ca", "ca.pem"], "--generate-certs cannot be combined with --ca"),
]


def _must_not_serve(args: object) -> int:
    raise AssertionError("a bad flag got as far as serving")


@pytest.mark.parametrize(("args", "message"), BAD_SERVE_FLAGS)
def test_a_bad_serve_flag_is_one_line_and_exit_2(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "_serve", _must_not_serve)
    assert main(["serve", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("fakebbs serve: error: ")
    assert message in captured.err
    assert captured.err.endswith(" (see 'fakebbs serve --help')\n")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [["--host", ""], ["--converge-interval", "inf"], ["--max-task-retries", "-1"]],
    ids=["empty-host", "infinite-interval", "negative-retries"],
)
def test_the_command_refuses_bad_values_before_it_listens(args: list[str]) -> None:
    with spawn("serve", "--port", "0", *args) as proc:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 2
    assert stdout == ""
    assert stderr.startswith("fakebbs serve: error: argument ")
    assert stderr.count("\n") == 1


def test_converge_interval_zero_is_accepted_and_means_never(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = cli._parser()
    assert parser.parse_args(["serve", "--converge-interval", "0"]).converge_interval == 0.0
    assert parser.parse_args(["serve"]).converge_interval == 0.0


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


# -- limits -------------------------------------------------------------------------------------


def test_the_journal_and_namespace_limits_reach_every_namespace() -> None:
    args = cli._parser().parse_args(
        ["serve", "--journal-size", "5", "--journal-bytes", "2M", "--max-namespaces", "3"]
    )
    namespaces = cli._namespaces(args)
    fake = namespaces.get("a").fake
    assert (fake.calls.size, fake.calls.max_bytes) == (5, 2 * 1024 * 1024)
    assert (fake.rep_calls.size, fake.auctioneer_calls.max_bytes) == (5, 2 * 1024 * 1024)
    assert namespaces.max_namespaces == 3


def test_journal_size_zero_turns_the_journals_off() -> None:
    args = cli._parser().parse_args(["serve", "--journal-size", "0"])
    assert not cli._namespaces(args).default.fake.calls.enabled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--journal-size", "-1"], "argument --journal-size: not a whole number"),
        (["--journal-bytes", "10T"], "argument --journal-bytes: not a number of bytes"),
        (["--journal-bytes", "M"], "argument --journal-bytes: not a number of bytes"),
        (["--max-namespaces", "many"], "argument --max-namespaces: not a whole number"),
    ],
)
def test_a_bad_limit_is_one_line_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1


# -- exposure -----------------------------------------------------------------------------------


def test_serving_on_a_non_loopback_address_warns_in_one_line() -> None:
    with spawn("serve", "--host", "0.0.0.0", "--port", "0", "--quiet") as proc:
        try:
            assert readline(proc).startswith("fakebbs listening on http://0.0.0.0:")
            assert proc.stderr is not None
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stderr, selectors.EVENT_READ)
                assert selector.select(TIMEOUT), "no warning on stderr"
            warning = proc.stderr.readline()
        finally:
            proc.send_signal(signal.SIGTERM)
            _, rest = proc.communicate(timeout=TIMEOUT)
    assert warning == (
        "fakebbs: warning: 0.0.0.0 is not a loopback address: other machines can call this "
        "fake BBS over plain HTTP, with no authentication\n"
    )
    assert rest == ""


@pytest.mark.parametrize(
    ("host", "tls", "admin", "says"),
    [
        ("127.0.0.1", None, True, ""),
        ("localhost", None, True, ""),
        ("::1", None, True, ""),
        ("10.0.0.7", None, False, "over plain HTTP, with no authentication"),
        ("0.0.0.0", ssl.CERT_NONE, False, "over TLS without client certificates"),
        ("::", ssl.CERT_REQUIRED, False, "over mutual TLS"),
        ("bbs.example", ssl.CERT_REQUIRED, True, "the admin API included (--admin)"),
    ],
)
def test_the_exposure_warning_says_who_can_call_and_how(
    host: str, tls: ssl.VerifyMode | None, admin: bool, says: str
) -> None:
    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.verify_mode = tls
    warning = cli._exposure(host, context, admin)
    assert (says in warning) if says else warning == ""
    assert "\n" not in warning
