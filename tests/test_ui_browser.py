"""The live page in a real headless browser: Chromium from the system, driven by Playwright.

Each test opens the page of a namespace of its own on one served ``Namespaces`` and fails on
any console error or uncaught exception in the page. Where no browser can be had (the
``playwright`` package or a Chromium is missing) the tests skip and say why, unless
``FAKEBBS_REQUIRE_BROWSER=1`` (CI sets it) makes that a failure. ``FAKEBBS_CHROMIUM`` names the
browser when it is not ``chromium`` on the PATH; ``FAKEBBS_UI_SCREENSHOT=PATH`` keeps the
screenshot the screenshot test takes (the README's docs/ui.png is one).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from builders import desired_lrp
from fakebbs import BBSClient, FakeBBS, errors
from fakebbs._http.server import Server
from fakebbs._standalone.namespaces import Namespaces
from fakebbs._standalone.served import served_namespaces
from processes import http_json

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

LIVE_MS = 1000
"""The page shows a change within a second, without a reload."""

LOAD_MS = 10_000
"""Loading the page (and the browser's first start) may take longer on a busy machine."""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _no_browser(reason: str) -> None:
    if os.environ.get("FAKEBBS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FAKEBBS_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _chromium() -> str | None:
    named = os.environ.get("FAKEBBS_CHROMIUM")
    if named:
        return shutil.which(named)
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """A Chromium with a fresh profile, for the module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed (pip install -e '.[test]')")
    executable = _chromium()
    if executable is None:
        _no_browser("no Chromium found (apt-get install chromium, or set FAKEBBS_CHROMIUM)")
    assert executable is not None
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1200, "height": 640},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def namespaces() -> Iterator[Namespaces]:
    spaces = served_namespaces()
    yield spaces
    for namespace in spaces.all():
        namespace.fake.check()


@pytest.fixture(scope="module")
def server(namespaces: Namespaces) -> Iterator[Server]:
    with namespaces.serve() as server:
        yield server


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """This test's namespace."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:100]


@pytest.fixture
def fake(namespaces: Namespaces, name: str) -> FakeBBS:
    return namespaces.get(name).fake


@pytest.fixture
def bbs(server: Server, name: str) -> Iterator[BBSClient]:
    with BBSClient(f"{server.url}/ns/{name}") as client:
        yield client


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A fresh tab; the test fails if the page logs an error or throws."""
    tab = browser.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    yield tab
    tab.close()
    assert problems == [], "the page logged errors"


def page_url(server: Server, name: str, tab: str = "") -> str:
    return f"{server.url}/ns/{name}/fakebbs/ui/" + (f"#{tab}" if tab else "")


def open_page(page: Page, server: Server, name: str, tab: str = "") -> None:
    """Open the page and wait until its feed is connected."""
    page.goto(page_url(server, name, tab))
    page.wait_for_selector("#live.on", timeout=LOAD_MS)


def admin(server: Server, name: str, method: str, path: str, body: Any = None) -> Any:
    status, answer = http_json(method, f"{server.url}/ns/{name}/fakebbs/v1{path}", body)
    assert status == 200, answer
    return answer


# -- what it shows -----------------------------------------------------------------------------


def test_the_page_loads_without_errors_and_shows_the_seeded_state(
    page: Page, server: Server, name: str, fake: FakeBBS
) -> None:
    fake.seed.cell("cell-1", zone="z1")
    fake.seed.desired_lrp("web", instances=3, running=2, crashed=1, cell_id="cell-1")
    fake.seed.task("t-1", state="RUNNING", cell_id="cell-1")

    open_page(page, server, name)

    group = page.wait_for_selector('tbody[data-guid="web"]', timeout=LOAD_MS)
    assert group is not None
    states = [r.get_attribute("data-state") for r in group.query_selector_all("tr")]
    assert states == ["RUNNING", "RUNNING", "CRASHED"]
    assert "cell-1" in group.inner_text()
    assert "z1" in group.inner_text()
    assert page.inner_text("#count-desired") == "1 desired LRP"
    assert page.inner_text("#count-tasks") == "1 task (1 running)"
    assert page.title() == f"fakebbs · {name}"


def test_the_cells_tab_shows_what_runs_on_each_cell(
    page: Page, server: Server, name: str, fake: FakeBBS
) -> None:
    fake.seed.cell("cell-1", zone="z1")
    fake.seed.desired_lrp("web", instances=2, running=2, cell_id="cell-1")

    open_page(page, server, name, "cells")

    row = page.wait_for_selector('#cells-table tr[data-cell="cell-1"]', timeout=LOAD_MS)
    assert row is not None
    assert "2 running" in row.inner_text()


def test_the_page_shows_a_desired_lrp_within_a_second_without_a_reload(
    page: Page, server: Server, name: str, bbs: BBSClient
) -> None:
    open_page(page, server, name)
    page.evaluate("window.sameDocument = true")

    bbs.desire_lrp(desired_lrp("arrives-live", instances=2))

    page.wait_for_selector('tbody[data-guid="arrives-live"]', timeout=LIVE_MS)
    assert page.evaluate("window.sameDocument") is True


def test_a_journal_entry_shows_its_decoded_request_and_answer(
    page: Page, server: Server, name: str, bbs: BBSClient
) -> None:
    bbs.desire_lrp(desired_lrp("in-the-journal", instances=4))
    open_page(page, server, name, "journal")

    row = page.wait_for_selector(
        '#journal-table tr[data-route="DesireDesiredLRP"]', timeout=LOAD_MS
    )
    assert row is not None
    row.click()

    detail = page.wait_for_selector("#journal-table tr.detail:not([hidden])", timeout=LOAD_MS)
    assert detail is not None
    text = detail.inner_text()
    assert '"process_guid": "in-the-journal"' in text
    assert '"instances": 4' in text


def test_a_live_event_view_shows_the_events_the_streams_send(
    page: Page, server: Server, name: str, bbs: BBSClient
) -> None:
    open_page(page, server, name, "events")

    bbs.desire_lrp(desired_lrp("eventful", instances=1))

    row = page.wait_for_selector(
        '#events-table tr[data-type="desired_lrp_created"]', timeout=LOAD_MS
    )
    assert row is not None
    assert "eventful" in row.inner_text()
    instance = page.wait_for_selector(
        '#events-table tr[data-type="actual_lrp_instance_created"]', timeout=LOAD_MS
    )
    assert instance is not None
    assert "eventful #0" in instance.inner_text()


def test_ten_thousand_desired_lrps_are_shown_a_page_at_a_time(
    page: Page, server: Server, name: str, fake: FakeBBS
) -> None:
    fake.seed.desired_lrps(count=10_000, prefix="bulk", instances=2)
    open_page(page, server, name)
    page.wait_for_selector("#lrps-pager .shown >> text=1–50 of 10000", timeout=LOAD_MS)
    assert page.locator("#lrps-table tbody.group").count() == 50

    page.click("#lrps-pager button >> nth=1")
    page.wait_for_selector("#lrps-pager .shown >> text=51–100 of 10000", timeout=LOAD_MS)
    page.fill("#lrps-filter", max(fake.snapshot().desired_lrps))

    page.wait_for_selector("#lrps-pager .shown >> text=1–1 of 1", timeout=LOAD_MS)
    assert page.locator("#lrps-table tbody.group").count() == 1


# -- what it does ------------------------------------------------------------------------------


def test_removing_a_fault_rule_from_the_page_removes_it(
    page: Page, server: Server, name: str, fake: FakeBBS, bbs: BBSClient
) -> None:
    rule = admin(
        server,
        name,
        "POST",
        "/faults",
        {"route": "UpsertDomain", "error": {"type": "Unrecoverable"}},
    )
    open_page(page, server, name, "controls")

    page.click(f'#faults-table tr[data-id="{rule["id"]}"] button.remove', timeout=LOAD_MS)

    page.wait_for_selector(f'#faults-table tr[data-id="{rule["id"]}"]', state="detached")
    assert admin(server, name, "GET", "/faults") == {"faults": []}
    bbs.upsert_domain("cf-apps", 60)  # answered normally again


def test_releasing_a_hold_from_the_page_lets_the_held_request_through(
    page: Page, server: Server, name: str, fake: FakeBBS, bbs: BBSClient
) -> None:
    hold = admin(server, name, "POST", "/holds", {"route": "UpsertDomain"})
    open_page(page, server, name, "controls")
    row = f'#holds-table tr[data-id="{hold["id"]}"]'
    page.wait_for_selector(f"{row} >> text=0", timeout=LOAD_MS)

    held = threading.Thread(target=bbs.upsert_domain, args=("cf-apps", 60))
    held.start()
    page.wait_for_selector(f"{row} td:nth-child(3) >> text=1", timeout=LOAD_MS)  # shown live
    page.click(f"{row} button.release")

    held.join(timeout=10)
    assert not held.is_alive()
    assert "cf-apps" in fake.snapshot().domains
    page.wait_for_selector(row, state="detached", timeout=LOAD_MS)


def test_choosing_another_namespace_shows_its_state(
    page: Page, server: Server, namespaces: Namespaces, name: str, fake: FakeBBS
) -> None:
    fake.seed.desired_lrp("mine", instances=1)
    other = f"{name}-other"
    namespaces.get(other).fake.seed.desired_lrp("theirs", instances=1)
    open_page(page, server, name)
    page.wait_for_selector('tbody[data-guid="mine"]', timeout=LOAD_MS)

    page.select_option("#namespace", other)

    page.wait_for_url(f"**/ns/{other}/fakebbs/ui/", timeout=LOAD_MS)
    page.wait_for_selector('tbody[data-guid="theirs"]', timeout=LOAD_MS)
    assert page.query_selector('tbody[data-guid="mine"]') is None
    assert page.input_value("#namespace") == other


def test_a_bbs_error_in_the_journal_is_shown_as_the_answer(
    page: Page, server: Server, name: str, fake: FakeBBS, bbs: BBSClient
) -> None:
    fake.fail("UpsertDomain", errors.Unrecoverable("gone wrong"), times=1)
    with pytest.raises(errors.Unrecoverable):
        bbs.upsert_domain("cf-apps", 60)
    open_page(page, server, name, "journal")

    row = page.wait_for_selector('#journal-table tr[data-route="UpsertDomain"]', timeout=LOAD_MS)

    assert row is not None
    assert "Unrecoverable: gone wrong" in row.inner_text()


# -- the screenshot: the structure of what is drawn, not its pixels ----------------------------


def test_a_screenshot_of_the_page_shows_a_styled_non_blank_page(
    page: Page, server: Server, namespaces: Namespaces
) -> None:
    name = "suite-a"
    fake = namespaces.get(name).fake
    fake.seed.cell("cell-1", zone="z1")
    fake.seed.cell("cell-2", zone="z2")
    fake.seed.domain("cf-apps", ttl=120)
    fake.seed.desired_lrp("web", instances=3, running=2, crashed=1, cell_id="cell-1")
    fake.seed.desired_lrp("worker", instances=2, running=1, cell_id="cell-2")
    fake.seed.actual_lrp("worker", 0, state="RUNNING", cell_id="cell-1", evacuating=True)
    fake.seed.desired_lrps(count=6, prefix="api", instances=1)
    fake.seed.task("t-1", state="RUNNING", cell_id="cell-1")
    open_page(page, server, name)
    with BBSClient(f"{server.url}/ns/{name}") as bbs:
        bbs.desire_lrp(desired_lrp("a-new-app", instances=2))
    page.wait_for_selector('tbody[data-guid="a-new-app"]', timeout=LOAD_MS)

    png = page.screenshot()

    # What is drawn: the styled header, the tabs, a table with rows, all of it on the screen.
    header = page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent"), "the stylesheet did not apply"
    assert page.locator("nav a").count() == 7
    assert page.locator("nav a.active").inner_text() == "LRPs"
    assert page.locator("#lrps-table tbody tr").count() >= 10
    for selector in ("header", "#summary", "nav", "#lrps-table"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 20, selector
    # What the PNG holds: the viewport's size, and a picture rather than one flat colour.
    width, height, colours = _png_facts(png)
    assert (width, height) == (1200, 640)
    assert colours > 20, "the screenshot is (nearly) blank"
    keep = os.environ.get("FAKEBBS_UI_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(png)


def _png_facts(png: bytes) -> tuple[int, int, int]:
    """A PNG's width, height and the number of distinct byte values of its pixel rows."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, width, height, data = 8, 0, 0, b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            data += body
        at += 12 + length
    return width, height, len(set(zlib.decompress(data)))
