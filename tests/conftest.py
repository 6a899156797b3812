"""Shared fixtures, on the project's own pytest plugin: ``fake`` is the plugin's ``fakebbs``
(the session's served fake, reset before each test and checked after it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from fakebbs import FakeBBS
from fakebbs.client import BBSClient

pytest_plugins = ["pytester"]

# No per-example deadline: a loaded CI machine would make it a timed assertion.
settings.register_profile("fakebbs", deadline=None)
settings.load_profile("fakebbs")


@pytest.fixture
def fake(fakebbs: FakeBBS) -> FakeBBS:
    return fakebbs


@pytest.fixture(params=["socket", "in-process"])
def bbs(request: pytest.FixtureRequest, fake: FakeBBS) -> Iterator[BBSClient]:
    """A client talking to the fake: over a real socket, and again calling the WSGI app."""
    client = (
        BBSClient(fake.url) if request.param == "socket" else BBSClient.in_process(fake.wsgi_app)
    )
    with client:
        yield client
