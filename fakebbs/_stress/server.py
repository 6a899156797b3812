"""The ``fakebbs serve`` child process a run starts when given no URL, and the sampling of
its thread count during the load."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ServerProcess", "sampling"]

_STARTUP_TIMEOUT = 30.0  # seconds for a started server to print its "listening" line


class ServerProcess:
    """``fakebbs serve --port 0`` as a child process, and its thread count."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fakebbs", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # one line per request; reading it is not the point
            text=True,
        )
        assert self.process.stdout is not None
        ready = threading.Event()
        lines: list[str] = []

        def read_line() -> None:
            assert self.process.stdout is not None
            lines.append(self.process.stdout.readline())
            ready.set()

        threading.Thread(target=read_line, daemon=True).start()
        if not ready.wait(_STARTUP_TIMEOUT) or not lines[0].startswith("fakebbs listening on "):
            self.process.kill()
            self.process.wait()
            self.process.stdout.close()
            raise RuntimeError(f"fakebbs serve did not start: {lines[:1]!r}")
        self.url = lines[0].removeprefix("fakebbs listening on ").strip()

    def threads(self) -> int | None:
        """The server process's thread count (Linux /proc), None where unknown."""
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("Threads:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed after 10 s: status -9)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            assert self.process.stdout is not None
            self.process.stdout.close()


@contextmanager
def sampling(read: Callable[[], int | None], samples: list[int]) -> Iterator[None]:
    """Sample ``read()`` every 0.1 s while the block runs."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            value = read()
            if value is not None:
                samples.append(value)

    thread = threading.Thread(target=sample, name="fakebbs-stress-sampler", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
