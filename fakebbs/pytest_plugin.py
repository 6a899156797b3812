"""The pytest plugin (registered through the ``pytest11`` entry point; nothing to import).

Fixtures:

- ``fakebbs_server``: a ``FakeBBS`` (built with ``fakebbs_options``) served on
  ``fakebbs_address`` (``127.0.0.1``, a free port) with ``fakebbs_ssl_context`` (None: plain
  HTTP), started once per session for each distinct address, TLS context and options, with the
  overrides in force where it is requested (so ``tests/`` on plain HTTP and ``tests_tls/`` with
  mutual TLS in one run get a server each); its ``client()`` hands out clients built with
  ``fakebbs_client_options`` unless told otherwise;
- ``fakebbs``: that same fake, reset before the test and ``check()``-ed after it, so an error
  inside the fake fails the test that caused it;
- ``fakebbs_client``: ``fakebbs.client()`` (over the socket), closed after the test;
- ``fakebbs_in_process``: a fresh ``FakeBBS`` (built with ``fakebbs_options``) that is never
  served (its ``client()`` calls the WSGI app directly), ``check()``-ed after the test.

``pytest --fakebbs-ui`` adds, to the report of a test that fails while using a fake, the URL of
a live page of what that fake held as it failed (``fakebbs._standalone.failure_pages``),
served while the session runs.

Override ``fakebbs_address``, ``fakebbs_ssl_context`` (a server-side ``ssl.SSLContext``),
``fakebbs_client_options`` (keyword arguments for ``BBSClient``, such as the client side's
``ssl_context``) and ``fakebbs_options`` (keyword arguments for ``FakeBBS``, such as
``max_task_retries``) in a ``conftest.py``: the one of the directory whose tests they are for,
or the root one for the whole suite. ``fakebbs_certificates`` makes a throwaway CA, server and
client identity for mutual TLS (``fakebbs.tls.generate_certificates``, which needs trustme).
A fixed port asked for twice with other overrides is a setup error naming both. Every
pytest-xdist worker is its own process, so it gets its own servers and state; nothing here is
process-global.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from fakebbs._fake import FakeBBS
from fakebbs._standalone.failure_pages import FailurePages
from fakebbs.client import BBSClient
from fakebbs.tls import Certificates

if TYPE_CHECKING:
    from fakebbs._http.server import Server

__all__ = [
    "fakebbs",
    "fakebbs_address",
    "fakebbs_certificates",
    "fakebbs_client",
    "fakebbs_client_options",
    "fakebbs_in_process",
    "fakebbs_options",
    "fakebbs_server",
    "fakebbs_ssl_context",
]


@pytest.fixture(scope="session")
def fakebbs_address() -> tuple[str, int]:
    """Where ``fakebbs_server`` listens: ``(host, port)``; port 0 picks a free one."""
    return ("127.0.0.1", 0)


@pytest.fixture(scope="session")
def fakebbs_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """Throwaway PEM files (a CA, a server certificate for 127.0.0.1, ::1 and localhost, a
    client certificate) and their ``ssl`` contexts, for mutual TLS in a suite."""
    from fakebbs.tls import generate_certificates

    return generate_certificates(tmp_path_factory.mktemp("fakebbs-certificates"))


@pytest.fixture(scope="session")
def fakebbs_ssl_context() -> ssl.SSLContext | None:
    """The server-side TLS context of ``fakebbs_server`` (None: plain HTTP). Make it require
    client certificates for mutual TLS."""
    return None


@pytest.fixture(scope="session")
def fakebbs_client_options() -> dict[str, Any]:
    """Keyword arguments for the ``BBSClient`` of ``fakebbs_client`` (e.g. ``ssl_context``)."""
    return {}


@pytest.fixture(scope="session")
def fakebbs_options() -> dict[str, Any]:
    """Keyword arguments for the plugin's ``FakeBBS`` (e.g. ``max_task_retries``,
    ``journal_size``, ``call_reps``), for ``fakebbs_server`` and ``fakebbs_in_process``."""
    return {}


_Key = tuple[tuple[str, int], ssl.SSLContext | None, dict[str, Any]]


class _Served:
    """The fakes the plugin serves in one session (one process): one per distinct address,
    server TLS context and ``FakeBBS`` options, each started on first request."""

    def __init__(self) -> None:
        self._served: list[tuple[_Key, FakeBBS, Server, str]] = []

    def fake(self, key: _Key, nodeid: str) -> FakeBBS:
        address, context, options = key
        for (other_address, other_context, other_options), fake, _, first in self._served:
            if other_address == address and other_context is context and other_options == options:
                return fake
            if address[1] != 0 and other_address == address:
                pytest.fail(
                    f"fakebbs_address {address!r} already serves a fake for other overrides"
                    f" ({_describe(other_context, other_options)}, first requested by {first});"
                    f" here they are {_describe(context, options)}: give one of the two"
                    " conftest.py files another fakebbs_address, or port 0 (a free port)",
                    pytrace=False,
                )
        fake = FakeBBS(**options)
        server = fake.serve(address[0], address[1], ssl_context=context)
        self._served.append((key, fake, server, nodeid))
        return fake

    def stop(self) -> None:
        for _, _, server, _ in self._served:
            server.stop()


def _describe(context: ssl.SSLContext | None, options: dict[str, Any]) -> str:
    served = "plain HTTP" if context is None else "mutual TLS or HTTPS (an ssl.SSLContext)"
    return f"{served}, fakebbs_options {options!r}"


@pytest.fixture(scope="session")
def _fakebbs_served() -> Iterator[_Served]:
    served = _Served()
    yield served
    served.stop()


@pytest.fixture
def fakebbs_server(
    request: pytest.FixtureRequest,
    _fakebbs_served: _Served,
    fakebbs_address: tuple[str, int],
    fakebbs_ssl_context: ssl.SSLContext | None,
    fakebbs_options: dict[str, Any],
    fakebbs_client_options: dict[str, Any],
) -> FakeBBS:
    """The fake served for this test's overrides: started once per session for each distinct
    address, TLS context and options (per xdist worker); ``.url`` is its address."""
    host, port = fakebbs_address
    fake = _fakebbs_served.fake(
        ((host, port), fakebbs_ssl_context, fakebbs_options), request.node.nodeid
    )
    fake.client_options = dict(fakebbs_client_options)
    return fake


@pytest.fixture
def fakebbs(fakebbs_server: FakeBBS) -> Iterator[FakeBBS]:
    """The session's served fake, reset for this test; an error inside it fails the test."""
    fakebbs_server.reset()
    yield fakebbs_server
    fakebbs_server.check()


@pytest.fixture
def fakebbs_client(fakebbs: FakeBBS, fakebbs_client_options: dict[str, Any]) -> Iterator[BBSClient]:
    """A client of the ``fakebbs`` fixture's fake, over its socket."""
    with fakebbs.client(**fakebbs_client_options) as client:
        yield client


@pytest.fixture
def fakebbs_in_process(fakebbs_options: dict[str, Any]) -> Iterator[FakeBBS]:
    """A fresh fake that is never served: ``client()`` calls its WSGI app directly."""
    fake = FakeBBS(**fakebbs_options)
    yield fake
    fake.check()


# -- --fakebbs-ui ------------------------------------------------------------------------------

_PAGES = pytest.StashKey[FailurePages]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("fakebbs").addoption(
        "--fakebbs-ui",
        action="store_true",
        help="in the report of a test that fails while using a fake, print the URL of a live "
        "page of what the fake held as it failed (served while the session runs)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when != "setup" and item.config.getoption("fakebbs_ui"):
        fakes = {id(v): v for v in getattr(item, "funcargs", {}).values() if isinstance(v, FakeBBS)}
        if fakes:
            pages = item.config.stash.setdefault(_PAGES, FailurePages())
            urls = [pages.keep(fake, item.nodeid) for fake in fakes.values()]
            text = "\n".join(f"what the BBS held when it failed: {url}" for url in urls)
            report.sections.append(("fakebbs", text))
            if item.config.getoption("usepdb", False):
                terminal = item.config.pluginmanager.get_plugin("terminalreporter")
                if terminal is not None:
                    terminal.write_line(f"\nfakebbs: {text}")
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    pages = config.stash.get(_PAGES, None)
    if pages is not None:
        pages.stop()
