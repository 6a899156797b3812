"""Shared fixtures: one served fake per session, reset before each test, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakebbs import FakeBBS
from fakebbs._server import Server
from fakebbs.client import BBSClient


@pytest.fixture(scope="session")
def session_fake() -> Iterator[tuple[FakeBBS, Server]]:
    fake = FakeBBS()
    with fake.serve() as server:
        yield fake, server


@pytest.fixture
def fake(session_fake: tuple[FakeBBS, Server]) -> Iterator[FakeBBS]:
    """The session's fake, emptied; fails the test if a handler raised inside the server."""
    fake, _ = session_fake
    fake.reset()
    fake.wsgi_app.errors.clear()
    yield fake
    errors = list(fake.wsgi_app.errors)
    fake.wsgi_app.errors.clear()
    if errors:
        raise errors[0]


@pytest.fixture
def bbs(fake: FakeBBS, session_fake: tuple[FakeBBS, Server]) -> Iterator[BBSClient]:
    """A client talking to the fake over a real socket."""
    _, server = session_fake
    with BBSClient(server.url) as client:
        yield client
