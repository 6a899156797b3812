"""The fake as a whole: one state, one WSGI app over it, and a way to serve it."""

from __future__ import annotations

# Filled in by the core work: FakeBBS() owns a State (fakebbs._state.State) and a WSGI app
# (fakebbs._app.BBSApp(state)); FakeBBS.wsgi_app is that app; FakeBBS.serve(host, port, ...)
# returns a started fakebbs._server.Server (a context manager).


class FakeBBS:
    pass
