"""fakebbs._standalone.ui: the live page's files and its feed of server-sent events, over a socket.

The page in a real browser is tests/test_ui_browser.py."""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from werkzeug.test import Client

from builders import desired_lrp
from fakebbs import BBSClient, errors
from fakebbs._http.server import Server
from fakebbs._standalone.namespaces import Namespaces
from fakebbs._standalone.served import served_namespaces
from processes import http_json

TIMEOUT = 10.0


@pytest.fixture
def server(namespaces: Namespaces) -> Iterator[Server]:
    with namespaces.serve() as server:
        yield server


class Feed:
    """A reader of one page feed: the SSE events it sends, one at a time."""

    def __init__(self, url: str, path: str = "/fakebbs/ui/feed") -> None:
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT)
        self.connection.request("GET", path)
        self.response = self.connection.getresponse()

    def next(self) -> tuple[str, Any]:
        """The next event: (name, decoded data)."""
        name, data = "", ""
        while True:
            line = self.response.readline().decode()
            assert line, "the feed ended"
            if line == "\n" and name:
                return name, json.loads(data)
            if line.startswith("event: "):
                name = line[len("event: ") :].strip()
            elif line.startswith("data: "):
                data = line[len("data: ") :].strip()

    def next_named(self, name: str) -> Any:
        while True:
            got, data = self.next()
            if got == name:
                return data

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def feed(server: Server) -> Iterator[Feed]:
    reader = Feed(server.url)
    assert reader.next() == ("hello", {})
    yield reader
    reader.close()


# -- the page's files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/fakebbs/ui/", "text/html; charset=utf-8"),
        ("/fakebbs/ui/app.js", "text/javascript; charset=utf-8"),
        ("/fakebbs/ui/app.css", "text/css; charset=utf-8"),
        ("/ns/team-a/fakebbs/ui/", "text/html; charset=utf-8"),
    ],
)
def test_the_page_and_its_files_are_served(
    namespaces: Namespaces, path: str, content_type: str
) -> None:
    response = Client(namespaces).get(path)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.get_data()


@pytest.mark.parametrize(
    ("path", "location"),
    [("/fakebbs/ui", "/fakebbs/ui/"), ("/ns/team-a/fakebbs/ui", "/ns/team-a/fakebbs/ui/")],
)
def test_the_page_without_its_slash_redirects_within_its_namespace(
    namespaces: Namespaces, path: str, location: str
) -> None:
    response = Client(namespaces).get(path)

    assert response.status_code == 308
    assert response.headers["Location"].endswith(location)


def test_an_unknown_page_file_is_a_404_and_a_post_a_405(namespaces: Namespaces) -> None:
    client = Client(namespaces)

    assert client.get("/fakebbs/ui/nope.js").status_code == 404
    assert client.post("/fakebbs/ui/").status_code == 405
    assert client.post("/fakebbs/ui/feed").status_code == 405


def test_a_head_of_the_feed_is_its_headers_without_a_stream(namespaces: Namespaces) -> None:
    response = Client(namespaces).head("/fakebbs/ui/feed")

    assert (response.status_code, response.mimetype) == (200, "text/event-stream")
    assert response.get_data() == b""


def test_the_page_is_off_where_the_admin_api_is_off() -> None:
    client = Client(served_namespaces(admin=False))

    for path in ("/fakebbs/ui/", "/fakebbs/ui/feed", "/fakebbs/v1/summary"):
        response = client.get(path)
        assert response.status_code == 404
        assert "--admin" in response.get_data(as_text=True)


def test_the_page_fetches_nothing_from_elsewhere_and_stays_small() -> None:
    files = resources.files("fakebbs._standalone").joinpath("page")
    texts = {name: files.joinpath(name).read_text() for name in ("index.html", "app.js", "app.css")}

    for name, text in texts.items():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), name
    assert re.findall(r'(?:src|href)="([^"#]+)"', texts["index.html"]) == [
        "data:,",
        "app.css",
        "app.js",
    ]
    assert sum(len(t.encode()) for t in texts.values()) < 40_000
    assert "setInterval" not in texts["app.js"]
    assert "setTimeout" not in texts["app.js"]


# -- the feed ----------------------------------------------------------------------------------


def test_the_feed_tells_of_a_desired_lrp_and_sends_its_event(server: Server, feed: Feed) -> None:
    with BBSClient(server.url) as bbs:
        bbs.desire_lrp(desired_lrp("web", instances=1))

    changed = feed.next_named("changed")
    event = feed.next_named("bbs")

    assert "lrps" in changed["topics"]
    assert event["type"] == "desired_lrp_created"
    assert event["event"]["desired_lrp"]["process_guid"] == "web"


def test_the_feed_tells_of_journal_domain_and_cell_changes(
    namespaces: Namespaces, server: Server, feed: Feed
) -> None:
    with BBSClient(server.url) as bbs:
        bbs.upsert_domain("cf-apps", 60)
    topics: set[str] = set()
    while not {"journal", "domains"} <= topics:
        topics.update(feed.next_named("changed")["topics"])

    namespaces.default.fake.seed.cell("cell-1")

    assert "cells" in feed.next_named("changed")["topics"]


def test_the_feed_tells_of_fault_rules_added_through_the_admin_api(
    server: Server, feed: Feed
) -> None:
    status, answer = http_json(
        "POST", server.url + "/fakebbs/v1/faults", {"route": "Ping", "fault": {"kind": "not_found"}}
    )
    assert status == 200, answer

    assert "controls" in feed.next_named("changed")["topics"]


def test_a_reset_tells_of_every_topic(namespaces: Namespaces, feed: Feed) -> None:
    namespaces.default.fake.reset()

    topics = set(feed.next_named("changed")["topics"])

    assert {"lrps", "tasks", "domains", "cells", "journal"} <= topics


def test_a_feed_hears_only_its_own_namespace(namespaces: Namespaces, server: Server) -> None:
    mine = Feed(server.url, "/ns/mine/fakebbs/ui/feed")
    try:
        assert mine.next() == ("hello", {})
        namespaces.get("other").fake.seed.domain("theirs")
        namespaces.get("mine").fake.seed.domain("mine")

        assert mine.next_named("changed") == {"topics": ["domains"]}
        namespaces.get("mine").fake.seed.cell("cell-1")
        assert mine.next_named("changed") == {"topics": ["cells"]}
    finally:
        mine.close()


def test_the_feed_of_a_faulted_call_still_tells_of_the_journal(
    namespaces: Namespaces, server: Server, feed: Feed
) -> None:
    namespaces.default.fake.fail("UpsertDomain", errors.ResourceConflict("no"))
    with BBSClient(server.url) as bbs, pytest.raises(errors.ResourceConflict):
        bbs.upsert_domain("cf-apps", 60)

    assert "journal" in feed.next_named("changed")["topics"]


def test_stopping_the_server_ends_the_feed(server: Server, feed: Feed) -> None:
    server.stop()

    assert feed.response.readline() == b""


def test_dropping_a_namespace_ends_its_feeds_only(namespaces: Namespaces, server: Server) -> None:
    dropped = Feed(server.url, "/ns/dropped/fakebbs/ui/feed")
    kept = Feed(server.url, "/ns/kept/fakebbs/ui/feed")
    try:
        assert dropped.next() == kept.next() == ("hello", {})

        namespaces.drop("dropped")
        namespaces.get("kept").fake.seed.domain("still-live")

        assert dropped.response.readline() == b""
        assert kept.next_named("changed") == {"topics": ["domains"]}
    finally:
        dropped.close()
        kept.close()


def test_the_feed_tells_of_a_request_arriving_at_a_held_route(
    namespaces: Namespaces, server: Server, feed: Feed
) -> None:
    gate = namespaces.default.fake.hold("UpsertDomain")
    with BBSClient(server.url) as bbs:
        held = threading.Thread(target=bbs.upsert_domain, args=("cf-apps", 60))
        held.start()
        try:
            gate.wait_arrived()
            assert "controls" in feed.next_named("changed")["topics"]
        finally:
            gate.release()
            held.join(TIMEOUT)
