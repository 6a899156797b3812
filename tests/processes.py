"""``fakebbs serve`` as a real process, for the tests of what a program in another language
sees: start it, read its URL, talk JSON to its admin API, stop it."""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

TIMEOUT = 10.0
LISTENING = re.compile(r"fakebbs listening on (http://127\.0\.0\.1:\d+)\n")


def spawn(*flags: str) -> subprocess.Popen[str]:
    """``python -m fakebbs serve --port 0 FLAGS``; a warning in it is an error, as here."""
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "fakebbs", "serve", "--port", "0", *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def serving(*flags: str) -> Iterator[str]:
    """A started ``fakebbs serve --port 0 FLAGS``; yields its URL, then stops it with SIGTERM
    and checks that it exited 0."""
    with spawn(*flags) as proc:
        try:
            assert proc.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                assert selector.select(TIMEOUT), f"the server printed nothing within {TIMEOUT} s"
            line = proc.stdout.readline()
            match = LISTENING.fullmatch(line)
            assert match, f"unexpected first line {line!r}"
            yield match.group(1)
            proc.terminate()
            _, stderr = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, stderr
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)


def http_json(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """One JSON request: (status, decoded JSON answer), 4xx and 5xx included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())
