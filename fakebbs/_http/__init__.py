"""The BBS on the wire: the request pipeline, one handler per route, the answers' bytes and
event streams, and the standalone WSGI server."""
