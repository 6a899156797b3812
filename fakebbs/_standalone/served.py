"""The app ``fakebbs serve`` serves: namespaces with the admin API and the live page mounted.

Built here, above the three parts, so that none of them imports another: the admin API and the
page are handed to ``Namespaces``, which routes each request to them or to a namespace's fake.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from fakebbs._fake import FakeBBS
from fakebbs._rules.store import Snapshot
from fakebbs._standalone.admin import AdminAPI
from fakebbs._standalone.namespaces import DEFAULT_MAX_NAMESPACES, Namespaces
from fakebbs._standalone.ui import PageApp

__all__ = ["served_namespaces"]


def served_namespaces(
    make_fake: Callable[[str], FakeBBS] = lambda name: FakeBBS(namespace=name),
    *,
    admin: bool = True,
    seed: Snapshot | None = None,
    manual_clock: bool = False,
    setup: Callable[[FakeBBS], None] | None = None,
    max_namespaces: int = DEFAULT_MAX_NAMESPACES,
    state_file: str | os.PathLike[str] | None = None,
) -> Namespaces:
    """``Namespaces`` (its arguments are documented there) serving the admin API under
    ``/fakebbs/v1/`` and the live page under ``/fakebbs/ui/`` in every namespace."""
    return Namespaces(
        make_fake,
        admin=admin,
        seed=seed,
        manual_clock=manual_clock,
        setup=setup,
        max_namespaces=max_namespaces,
        state_file=state_file,
        admin_api=AdminAPI,
        page=PageApp(),
    )
