"""fakebbs: an in-memory fake of Cloud Foundry Diego's BBS, for tests.

``FakeBBS`` holds the state and the WSGI app; ``FakeBBS.serve()`` runs it on a local socket;
``BBSClient`` talks to any BBS (this fake or a real one); ``Clock`` is every fake's clock
(``bbs.clock.freeze()``, ``advance()``) and ``ManualClock`` a time source moved by hand;
``fakebbs.models`` has every BBS protobuf message and ``fakebbs.errors`` every BBS error type.
"""

from __future__ import annotations

from fakebbs import errors, models
from fakebbs._fake import FakeBBS
from fakebbs._store import Snapshot
from fakebbs.client import BBSClient
from fakebbs.clock import Clock, ManualClock

__all__ = ["BBSClient", "Clock", "FakeBBS", "ManualClock", "Snapshot", "errors", "models"]
