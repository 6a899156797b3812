"""The BBS on the wire: the request pipeline, one handler per route, the answers' bytes and
event streams, and the standalone WSGI server.

The modules, each importing only those above it in this list (and the rules and controls):

* ``environ``: the WSGI environ keys through which the server and the app talk;
  ``handshake``: a TLS handshake's outcome, log lines and environ;
* ``versions``: the 2016-era model conversions; ``event_calculator``: changes to events;
  ``events``: hubs, subscriptions, what each stream shows, SSE framing; ``encoded``: list bytes;
* ``handlers/``: one module per resource; ``transport``: answers that shape the transport
  (aborts, a body cut short, event streams); ``app``: the request pipeline (``BBSApp``);
* ``middleware``: bad bodies, the request log and app errors, between cheroot and the app;
  ``cheroot``: every cheroot subclass and override, checked on import; ``idle``: the request
  gatherer and the stream writer; ``workers``: the worker pool; ``server``: ``Server``'s
  lifecycle.
"""
