"""``fakebbs record`` and ``fakebbs replay`` end to end: a served fake recorded through the
proxy (a real process), replayed against a fresh fake and against one that behaves otherwise,
over plain HTTP and over mutual TLS on every side."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import TIMEOUT, readline
from test_recorder import traffic

from fakebbs import FakeBBS, models
from fakebbs.cli import main
from fakebbs.client import BBSClient
from fakebbs.tls import Certificates, generate_certificates
from processes import serving


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return generate_certificates(tmp_path_factory.mktemp("certs"))


def record(out: Path, certs: Certificates | None) -> None:
    """``fakebbs record`` in front of a served fake with one cell, ``traffic`` through it."""
    bbs = FakeBBS()
    bbs.seed.cell(models.CellPresence(cell_id="cell-1"))
    tls: list[str] = []
    client: ssl.SSLContext | None = None
    if certs is not None:
        tls = ["--ca", str(certs.ca_cert), "--cert", str(certs.client_cert)]
        tls += ["--key", str(certs.client_key), "--server-cert", str(certs.server_cert)]
        tls += ["--server-key", str(certs.server_key), "--server-ca", str(certs.ca_cert)]
        client = certs.client_context()
    with bbs.serve(ssl_context=None if certs is None else certs.server_context()):
        command = [sys.executable, "-W", "error", "-m", "fakebbs", "record"]
        command += ["--upstream", bbs.url, "--out", str(out), *tls]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            try:
                line = readline(proc)
                assert line.startswith("fakebbs recording on http"), line
                with BBSClient(line.split()[-1], ssl_context=client, timeout=TIMEOUT) as proxy:
                    traffic(proxy)
                proc.send_signal(signal.SIGTERM)
                stdout, stderr = proc.communicate(timeout=TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
    assert proc.returncode == 0, stderr
    assert stdout == f"fakebbs recorded 8 calls to {out}\n"


@pytest.fixture(params=["plain", "mutual-tls"])
def recording(
    request: pytest.FixtureRequest, tmp_path: Path, certs: Certificates
) -> Iterator[Path]:
    out = tmp_path / "bbs.json.gz"
    record(out, certs if request.param == "mutual-tls" else None)
    yield out


def test_a_recording_replays_against_a_fresh_fake_with_no_difference(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(recording)]) == 0
    out = capsys.readouterr().out
    assert out == "replayed 1 sequences against a fresh fake: 1 passed, 0 failed\n"


def test_a_served_fake_that_behaves_otherwise_fails_the_replay_with_the_difference(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The planted difference: a BBS that fails a task at its first rejection."""
    with serving("--max-task-retries", "0", "--quiet") as url:
        status = main(["replay", str(recording), "--url", url])
    out = capsys.readouterr().out
    assert status == 1
    assert "sequence 0 [recorded] step 7: Tasks\n" in out
    assert '.body.tasks[0].state: expected "Pending" / got "Completed"' in out
    assert out.endswith(f"against {url}: 0 passed, 1 failed\n")


def test_replay_of_a_file_that_is_not_a_recording_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert main(["replay", str(bad)]) == 2
    assert "not a fakebbs-fidelity-corpus/1 recording" in capsys.readouterr().err


def test_record_refuses_a_bad_listen_address(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["record", "--upstream", "http://127.0.0.1:1", "--out", "x", "--listen", "x"])
    assert status == 2
    assert "--listen must be HOST:PORT" in capsys.readouterr().err
