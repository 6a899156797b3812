"""Shared fixtures: one served fake per session, reset before each test, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakebbs import FakeBBS
from fakebbs._server import Server
from fakebbs.client import BBSClient

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def session_fake() -> Iterator[tuple[FakeBBS, Server]]:
    fake = FakeBBS()
    with fake.serve() as server:
        yield fake, server


@pytest.fixture
def fake(session_fake: tuple[FakeBBS, Server]) -> Iterator[FakeBBS]:
    """The session's fake, emptied; fails the test if a handler or the app raised inside the
    server."""
    fake, server = session_fake
    fake.reset()
    fake.wsgi_app.errors.clear()
    server.errors.clear()
    yield fake
    errors = [*fake.wsgi_app.errors, *server.errors]
    fake.wsgi_app.errors.clear()
    server.errors.clear()
    if errors:
        raise errors[0]


@pytest.fixture(params=["socket", "in-process"])
def bbs(
    request: pytest.FixtureRequest, fake: FakeBBS, session_fake: tuple[FakeBBS, Server]
) -> Iterator[BBSClient]:
    """A client talking to the fake: over a real socket, and again calling the WSGI app."""
    _, server = session_fake
    client = (
        BBSClient(server.url) if request.param == "socket" else BBSClient.in_process(fake.wsgi_app)
    )
    with client:
        yield client
