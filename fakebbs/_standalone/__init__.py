"""The served fake: namespaces of fakes, the admin API, the live page, seed files and the log.

The modules, each importing only those above it in this list:

* ``namespace``: one namespace's record and the names namespaces go by; ``seedfile``: seed
  files; ``log_writer``: the log off the request threads;
* ``admin_json``: the admin API's JSON (errors, bodies, records); ``namespaces``: the WSGI app
  routing each request to a namespace's fake, or to the admin API and the page it is handed;
* ``admin_views`` (the page's paged views), ``diego_admin`` (the simulated Diego's endpoints),
  ``admin`` (the admin API), ``ui`` (the live page);
* ``served``: builds the served app (what ``fakebbs serve`` serves); ``failure_pages``:
  ``pytest --fakebbs-ui``.
"""
