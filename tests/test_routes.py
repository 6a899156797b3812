"""The route table against the fact sheet's §2, row for row, and against the generated models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fakebbs import models
from fakebbs.routes import ROUTES, ROUTES_BY_NAME, Route

PROTOCOL = Path(__file__).resolve().parents[2] / "shared" / "protocol.md"
STATUS = {"cur": "current", "dep": "deprecated", "rem": "removed"}


def section_2_rows() -> list[dict[str, str | None]]:
    """Every route row of protocol.md §2, one per (path, method)."""
    text = PROTOCOL.read_text(encoding="utf-8")
    section = text[text.index("## 2. Route table") : text.index("## 3. Error message")]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| /v1"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        paths, method, status = cells[0], cells[1].strip("*"), cells[-1].split()[0]
        request = response = None
        if "→" in cells[2]:
            left, right = (part.strip() for part in cells[2].split("→"))
            request = None if left in ("", "(none)") else left.split()[0]
            response = right.split()[0]
        for path in paths.split(", "):
            rows.append(
                {
                    "path": path,
                    "method": method,
                    "status": STATUS[status],
                    "request": request,
                    "response": response,
                    "stream": "yes" if "→" not in cells[2] else None,
                }
            )
    return rows


needs_protocol = pytest.mark.skipif(
    not PROTOCOL.exists(), reason="shared/protocol.md not beside the repo"
)


@needs_protocol
def test_every_row_of_section_2_is_in_the_table_with_its_method_messages_and_status() -> None:
    table: dict[tuple[str | None, str | None], Route] = {(r.path, r.method): r for r in ROUTES}
    for row in section_2_rows():
        route = table[(row["path"], row["method"])]
        assert route.status == row["status"], row
        assert route.stream == (row["stream"] == "yes"), row
        if row["response"] is not None:
            assert route.response == row["response"], row
        if (
            row["request"] is not None
            or row["response"] is not None
            and row["path"] in ("/v1/ping", "/v1/domains/list", "/v1/cells/list.r1")
        ):
            assert route.request == row["request"], row


@needs_protocol
def test_the_table_has_no_route_that_section_2_lacks() -> None:
    documented = {(row["path"], row["method"]) for row in section_2_rows()}
    assert {(r.path, r.method) for r in ROUTES} == documented


def test_names_are_unique_and_current_ones_match_upstream_route_names() -> None:
    assert len(ROUTES_BY_NAME) == len(ROUTES)
    # A few rows whose Go names are easy to get wrong (routes.go at HEAD).
    assert ROUTES_BY_NAME["UpdateDesireLRP"].path == "/v1/desired_lrp/update"
    assert ROUTES_BY_NAME["ActualLRPGroupsByProcessGuidAndIndex"].path == (
        "/v1/actual_lrp_groups/get_by_process_guid_and_index"
    )
    assert ROUTES_BY_NAME["StartActualLRP"].path == "/v1/actual_lrps/start.r1"
    assert ROUTES_BY_NAME["StartActualLRP_r0"].path == "/v1/actual_lrps/start"


def test_a_removed_route_whose_go_name_was_reused_keeps_its_go_name() -> None:
    old = ROUTES_BY_NAME["DesiredLRPs_r0"]
    assert old.path == "/v1/desired_lrps/list"
    assert old.upstream_name == "DesiredLRPs"
    assert ROUTES_BY_NAME["DesiredLRPs"].upstream_name == "DesiredLRPs"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_message_named_by_the_table_exists(route: object) -> None:
    for name in (route.request, route.response):  # type: ignore[attr-defined]
        if name is not None:
            assert re.fullmatch(r"[A-Za-z]+", name)
            assert hasattr(models, name), name
