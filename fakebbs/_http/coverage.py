"""The README's route coverage table, made from the route table and the handlers: each row
with the selector that names it in ``fail``, ``hold`` and journal queries (the route's
``name``) beside upstream's Go name.

``python -m fakebbs._http.coverage`` prints it; a test keeps the README's copy equal to it.
"""

from __future__ import annotations

from fakebbs._http.handlers import HANDLERS
from fakebbs.routes import ROUTES


def route_coverage_markdown() -> str:
    lines = [
        "| route | method | selector | Go name | status | implemented |",
        "|---|---|---|---|---|---|",
    ]
    for route in ROUTES:
        done = "yes" if route.name in HANDLERS else "not yet"
        lines.append(
            f"| `{route.path}` | {route.method} | `{route.name}` | {route.upstream_name} "
            f"| {route.status} | {done} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(route_coverage_markdown(), end="")
