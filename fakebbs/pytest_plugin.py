"""The pytest plugin (registered through the ``pytest11`` entry point; nothing to import).

Fixtures:

- ``fakebbs_server`` (session): a ``FakeBBS`` served on ``fakebbs_address`` (``127.0.0.1``, a
  free port) with ``fakebbs_ssl_context`` (None: plain HTTP);
- ``fakebbs``: that same fake, reset before the test and ``check()``-ed after it, so an error
  inside the fake fails the test that caused it;
- ``fakebbs_client``: ``fakebbs.client()`` (over the socket), closed after the test;
- ``fakebbs_in_process``: a fresh ``FakeBBS`` that is never served (its ``client()`` calls the
  WSGI app directly), ``check()``-ed after the test.

``pytest --fakebbs-ui`` adds, to the report of a test that fails while using a fake, the URL of
a live page of what that fake held as it failed (``fakebbs._failure_pages``), served while the
session runs.

Override ``fakebbs_address``, ``fakebbs_ssl_context`` (a server-side ``ssl.SSLContext``) and
``fakebbs_client_options`` (keyword arguments for ``BBSClient``, such as the client side's
``ssl_context``) in a ``conftest.py`` to serve elsewhere or over mutual TLS;
``fakebbs_certificates`` makes a throwaway CA, server and client identity for that
(``fakebbs.tls.generate_certificates``, which needs trustme). Every pytest-xdist
worker is its own process, so it gets its own server and state; nothing here is process-global.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from fakebbs._failure_pages import FailurePages
from fakebbs._fake import FakeBBS
from fakebbs.client import BBSClient
from fakebbs.tls import Certificates

__all__ = [
    "fakebbs",
    "fakebbs_address",
    "fakebbs_certificates",
    "fakebbs_client",
    "fakebbs_client_options",
    "fakebbs_in_process",
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
def fakebbs_server(
    fakebbs_address: tuple[str, int], fakebbs_ssl_context: ssl.SSLContext | None
) -> Iterator[FakeBBS]:
    """One fake served for the whole session (per xdist worker); ``.url`` is its address."""
    fake = FakeBBS()
    host, port = fakebbs_address
    with fake.serve(host, port, ssl_context=fakebbs_ssl_context):
        yield fake


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
def fakebbs_in_process() -> Iterator[FakeBBS]:
    """A fresh fake that is never served: ``client()`` calls its WSGI app directly."""
    fake = FakeBBS()
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
