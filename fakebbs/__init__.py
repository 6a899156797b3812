"""fakebbs: an in-memory fake of Cloud Foundry Diego's BBS, for tests.

``FakeBBS`` holds the state and the WSGI app; ``FakeBBS.serve()`` runs it on a real socket;
``BBSClient`` talks to any BBS (this fake or a real one) over HTTP.
"""

from __future__ import annotations

from fakebbs._fake import FakeBBS

__all__ = ["FakeBBS"]
