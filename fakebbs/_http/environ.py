"""The WSGI environ keys through which the fake's own server and the app talk to each other.

The server (``fakebbs._http.server``) puts a callable or value under each key; the app
(``fakebbs._http.app`` and its transport answers) uses it when present. Under any other WSGI
server (werkzeug's test client, a user's own) the keys are absent and the app answers without
them. They are facts of this package, not of the BBS: the route table does not carry them.
"""

from __future__ import annotations

__all__ = [
    "ABORT_ENVIRON_KEY",
    "CLOSE_CONNECTION_ENVIRON_KEY",
    "LOG_ENVIRON_KEY",
    "SOCKET_ENVIRON_KEY",
    "STREAM_HANDOFF_ENVIRON_KEY",
]

ABORT_ENVIRON_KEY = "fakebbs.server.abort"
"""``abort(reset)``: send nothing more of the answer and close the connection (``reset``: with a
TCP reset). Transport faults use it."""

CLOSE_CONNECTION_ENVIRON_KEY = "fakebbs.server.close_connection"
"""``close()``: close the connection once this answer is complete (an event stream's end, as
upstream closes the hijacked one)."""

LOG_ENVIRON_KEY = "fakebbs.log"
"""A list ``[route, namespace, result]`` (each ``-``) for the server's request log line, which
the app fills in place (so that a middleware handing the app a copy of the environ does not lose
it); result is ``ok``, the BBS error type or ``fault:KIND``."""

SOCKET_ENVIRON_KEY = "fakebbs.server.socket"
"""The connection's socket, so that an idle event stream can notice its subscriber has gone."""

STREAM_HANDOFF_ENVIRON_KEY = "fakebbs.server.stream_handoff"
"""``handoff(stream, limit)``: once the headers of an event stream are sent, the server's one
stream writer writes its events from then on and the request's worker is free (a stream costs
no thread while it waits)."""
