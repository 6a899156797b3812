"""One namespace of a served fake, and the names the standalone server gives namespaces.

``Namespace`` is what every part of the standalone server is handed for a request: the
namespace's ``FakeBBS`` and what the admin API keeps for it. The routing between namespaces
(``fakebbs._standalone.namespaces``), the admin API and the live page all build on this module
and on nothing of each other's.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from fakebbs._control.controls import FaultRule, Gate
from fakebbs._fake import FakeBBS
from fakebbs._rules.store import Snapshot

__all__ = [
    "ADMIN_PREFIX",
    "DEFAULT_NAMESPACE",
    "NAMESPACE_ENVIRON_KEY",
    "NAMESPACE_HEADER",
    "NAMESPACE_PREFIX",
    "PAGE_PREFIX",
    "SEED_SNAPSHOT",
    "Namespace",
    "valid_name",
]

NAMESPACE_PREFIX = "/ns/"
"""A path starting ``/ns/NAME/`` is served by namespace NAME, the rest of the path as is."""

NAMESPACE_HEADER = "X-Fakebbs-Namespace"
"""The header that names a request's namespace when its path has no ``/ns/NAME`` prefix."""

NAMESPACE_ENVIRON_KEY = "fakebbs.namespace"
"""environ key: the name of the namespace serving the request (for the request log)."""

ADMIN_PREFIX = "/fakebbs/v1"
"""The admin API's reserved path prefix; no BBS route starts with it."""

DEFAULT_NAMESPACE = "default"
"""The name of the namespace a request without a ``/ns/NAME`` prefix or header is served by."""

PAGE_PREFIX = "/fakebbs/ui"
"""The live page's path (``fakebbs._standalone.ui``), served where the admin API is."""

SEED_SNAPSHOT = "seed"
"""The named snapshot every namespace of a seeded server starts with."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_name(name: str) -> bool:
    """Whether ``name`` can name a namespace: 1 to 128 letters, digits, ``.``, ``_`` or
    ``-``, starting with a letter or digit (so it is safe in a URL path)."""
    return _NAME.fullmatch(name) is not None


@dataclass
class Namespace:
    """One namespace: its fake, and what the admin API keeps for it (named snapshots, the
    fault rules and gates it made, by id)."""

    name: str
    fake: FakeBBS
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    rules: dict[str, FaultRule] = field(default_factory=dict)
    gates: dict[str, Gate] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _hold_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        """A fresh id for a fault rule of this namespace (1, 2, ...)."""
        return str(next(self._ids))

    def new_hold_id(self) -> str:
        """A fresh id for a gate (a held route) of this namespace: its own sequence."""
        return str(next(self._hold_ids))

    def live_rules(self) -> dict[str, FaultRule]:
        """The admin-made rules still in force (a reset or removal forgets the others)."""
        current = {id(rule) for rule in self.fake.faults}
        with self.lock:
            for key in [k for k, r in self.rules.items() if id(r) not in current]:
                del self.rules[key]
            return dict(self.rules)

    def live_gates(self) -> dict[str, Gate]:
        """The admin-made gates not yet released."""
        with self.lock:
            for key in [k for k, g in self.gates.items() if g.released]:
                del self.gates[key]
            return dict(self.gates)
