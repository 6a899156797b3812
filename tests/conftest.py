"""Shared fixtures, on the project's own pytest plugin: ``fake`` is the plugin's ``fakebbs``
(the session's served fake, reset before each test and checked after it). The rule tests,
which call the rules directly, share ``clock``, ``state`` and ``changes``; the standalone
server's tests share ``namespaces`` and ``admin``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from werkzeug.test import Client

from fakebbs import FakeBBS
from fakebbs._rules.state import State
from fakebbs._rules.store import Change
from fakebbs._rules.tasks import DEFAULT_MAX_TASK_RETRIES
from fakebbs._standalone.namespaces import Namespaces
from fakebbs._standalone.served import served_namespaces
from fakebbs.client import BBSClient
from rules_support import Clock, new_state

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


@pytest.fixture
def clock() -> Clock:
    """The rule tests' clock: it moves only when the test moves it."""
    return Clock()


@pytest.fixture
def max_task_retries() -> int:
    """The ``state``'s retry limit for tasks; a test parametrizes it to change it."""
    return DEFAULT_MAX_TASK_RETRIES


@pytest.fixture
def state(clock: Clock, max_task_retries: int) -> State:
    """Every rule family over a fresh store on ``clock`` (epochs "epoch-0", "epoch-1", ...)."""
    return new_state(clock, max_task_retries=max_task_retries)


@pytest.fixture
def changes(state: State) -> list[Change]:
    """Every change ``state``'s store publishes from now on."""
    seen: list[Change] = []
    state.store.listeners.append(seen.extend)
    return seen


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    """The standalone server's namespaces, as ``fakebbs serve`` builds them (not served on a
    port); every namespace's fake is checked after the test."""
    spaces = served_namespaces()
    yield spaces
    for namespace in spaces.all():
        namespace.fake.check()


@pytest.fixture
def admin(namespaces: Namespaces) -> Client:
    """A WSGI test client of ``namespaces``: the admin API and every namespace's BBS routes."""
    return Client(namespaces)
