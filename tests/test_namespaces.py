"""fakebbs._standalone.namespaces: one fake per namespace behind one app, chosen by path prefix
or header."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client, EnvironBuilder

from builders import desired_lrp
from fakebbs import BBSClient, FakeBBS, errors, models
from fakebbs._rules.wire import PROTOBUF
from fakebbs._standalone.namespaces import (
    NAMESPACE_ENVIRON_KEY,
    NAMESPACE_HEADER,
    Namespaces,
    is_loopback,
    valid_name,
)
from fakebbs._standalone.served import served_namespaces
from processes import http_json, serving


@pytest.fixture
def served(namespaces: Namespaces) -> Iterator[str]:
    """The namespaces served on a free port; yields the server's URL."""
    with namespaces.serve() as server:
        yield server.url


def desire(client: Client, path_prefix: str, guid: str, **headers: str) -> None:
    body = models.DesireLRPRequest(desired_lrp=desired_lrp(guid)).SerializeToString()
    response = client.post(
        f"{path_prefix}/v1/desired_lrp/desire.r2",
        data=body,
        headers={"Content-Type": PROTOBUF, **headers},
    )
    assert response.status_code == 200
    assert not models.DesiredLRPLifecycleResponse.FromString(response.data).HasField("error")


def guids(namespaces: Namespaces, name: str) -> list[str]:
    return sorted(namespaces.get(name).fake.snapshot().desired_lrps)


def test_a_path_prefix_chooses_the_namespace(namespaces: Namespaces) -> None:
    client = Client(namespaces)
    desire(client, "/ns/suite-a", "web")
    desire(client, "/ns/suite-b", "api")
    assert guids(namespaces, "suite-a") == ["web"]
    assert guids(namespaces, "suite-b") == ["api"]
    assert guids(namespaces, "") == []


def test_the_header_chooses_the_namespace_when_the_path_has_no_prefix(
    namespaces: Namespaces,
) -> None:
    client = Client(namespaces)
    desire(client, "", "web", **{NAMESPACE_HEADER: "suite-a"})
    desire(client, "", "api")
    assert guids(namespaces, "suite-a") == ["web"]
    assert guids(namespaces, "") == ["api"]


def test_the_path_prefix_wins_over_the_header(namespaces: Namespaces) -> None:
    desire(Client(namespaces), "/ns/by-path", "web", **{NAMESPACE_HEADER: "by-header"})
    assert guids(namespaces, "by-path") == ["web"]
    assert "by-header" not in namespaces.names()


def test_a_namespace_is_made_on_first_use(namespaces: Namespaces) -> None:
    assert namespaces.names() == ["default"]
    Client(namespaces).post("/ns/new-one/v1/ping")
    assert namespaces.names() == ["default", "new-one"]


def test_the_default_namespace_is_named_default_in_json_journal_and_log(
    namespaces: Namespaces,
) -> None:
    admin = Client(namespaces)
    desire(admin, "", "web")
    assert namespaces.default.fake.calls.last.namespace == "default"
    assert admin.get("/fakebbs/v1/version").json["namespace"] == "default"  # type: ignore[index]
    by_name = admin.get("/fakebbs/v1/journal", headers={NAMESPACE_HEADER: "default"}).json
    assert [c["namespace"] for c in by_name["calls"]] == ["default"]  # type: ignore[index]
    assert admin.get("/ns/default/fakebbs/v1/namespaces").json == {"namespaces": ["default"]}


def test_a_path_no_route_has_makes_no_namespace(namespaces: Namespaces) -> None:
    client = Client(namespaces)
    for path in ("/ns/junk/nothing", "/ns/junk/", "/ns/junk"):
        response = client.get(path)
        assert (response.status_code, response.get_data()) == (404, b"404 page not found\n")
    client.get("/nothing", headers={NAMESPACE_HEADER: "junk"})
    assert namespaces.names() == ["default"]
    assert client.get("/ns/junk/v1/nothing").status_code == 404
    assert namespaces.names() == ["default"]
    client.get("/ns/admin-made/fakebbs/v1/clock")
    assert namespaces.names() == ["default", "admin-made"]
    client.get("/ns/admin-made/nothing")  # an existing namespace journals it, as the BBS would
    assert namespaces.get("admin-made").fake.calls.last.path == "/nothing"


def test_past_the_namespace_limit_a_new_namespace_is_a_429_until_one_is_dropped() -> None:
    namespaces = served_namespaces(max_namespaces=2)
    client = Client(namespaces)
    assert client.post("/ns/a/v1/ping").status_code == 200
    assert client.get("/ns/b/fakebbs/v1/clock").status_code == 200
    refused = client.post("/ns/c/v1/ping")
    assert refused.status_code == 429
    assert "--max-namespaces" in refused.get_data(as_text=True)
    assert client.get("/ns/c/fakebbs/v1/clock").status_code == 429
    assert client.post("/ns/a/v1/ping").status_code == 200  # the existing ones go on
    assert client.post("/v1/ping").status_code == 200  # so does the default one
    assert client.delete("/ns/a/fakebbs/v1/namespace").status_code == 200
    assert client.post("/ns/c/v1/ping").status_code == 200
    assert namespaces.names() == ["default", "b", "c"]


def test_journaled_calls_carry_the_namespace_and_the_path_without_prefix(
    namespaces: Namespaces,
) -> None:
    desire(Client(namespaces), "/ns/suite-a", "web")
    call = namespaces.get("suite-a").fake.calls.last
    assert (call.namespace, call.path, call.route) == (
        "suite-a",
        "/v1/desired_lrp/desire.r2",
        "DesireDesiredLRP",
    )
    assert len(namespaces.default.fake.calls) == 0


def test_a_bad_namespace_name_is_refused(namespaces: Namespaces) -> None:
    response = Client(namespaces).post("/ns/-bad!/v1/ping")
    assert response.status_code == 400
    assert "not a namespace name" in response.get_data(as_text=True)
    response = Client(namespaces).post("/v1/ping", headers={NAMESPACE_HEADER: "a/b"})
    assert response.status_code == 400
    assert namespaces.names() == ["default"]


@pytest.mark.parametrize(
    ("name", "valid"),
    [("suite-a", True), ("gw0.test_1", True), ("", False), ("-x", False), ("a/b", False)],
)
def test_namespace_names_are_safe_in_a_path(name: str, valid: bool) -> None:
    assert valid_name(name) is valid


def test_a_new_namespace_gets_its_own_fake_from_the_factory() -> None:
    made: dict[str, FakeBBS] = {}

    def make(name: str) -> FakeBBS:
        made[name] = FakeBBS(namespace=name, max_task_retries=7)
        return made[name]

    spaces = served_namespaces(make)
    assert spaces.get("x").fake is made["x"]
    assert spaces.get("x") is spaces.get("x")
    assert list(made) == ["default", "x"]


def test_concurrent_first_requests_make_one_namespace(namespaces: Namespaces) -> None:
    barrier = threading.Barrier(8)
    got: list[FakeBBS] = []

    def first_use() -> None:
        barrier.wait()
        got.append(namespaces.get("shared").fake)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(fake) for fake in got}) == 1


def test_namespaces_stay_isolated_under_concurrent_suites(served: str) -> None:
    """Four suites at once, each desiring, listing and removing its own LRPs in its own
    namespace, all reusing the same guids: none ever sees another's."""
    failures: list[str] = []

    def suite(name: str) -> None:
        with BBSClient(f"{served}/ns/{name}") as client:
            for round_ in range(15):
                client.desire_lrp(desired_lrp("web", instances=round_ % 3 + 1))
                seen = client.desired_lrps()
                if [d.process_guid for d in seen] != ["web"]:
                    failures.append(f"{name}: saw {[d.process_guid for d in seen]}")
                actual = client.actual_lrps(process_guid="web")
                if len(actual) != round_ % 3 + 1:
                    failures.append(f"{name}: {len(actual)} instances in round {round_}")
                client.remove_desired_lrp("web")

    threads = [threading.Thread(target=suite, args=(f"suite-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_event_streams_honour_the_namespace(namespaces: Namespaces, served: str) -> None:
    with (
        BBSClient(f"{served}/ns/a") as in_a,
        BBSClient(f"{served}/ns/b") as in_b,
        in_a.subscribe_to_events() as events,
    ):
        in_b.desire_lrp(desired_lrp("from-b"))
        in_a.desire_lrp(desired_lrp("from-a"))
        first = events.next(timeout=5)
    assert isinstance(first, models.DesiredLRPCreatedEvent)
    assert first.desired_lrp.process_guid == "from-a"


def test_dropping_a_namespace_forgets_it(namespaces: Namespaces) -> None:
    client = Client(namespaces)
    desire(client, "/ns/gone", "web")
    assert namespaces.drop("gone")
    assert not namespaces.drop("gone")
    assert guids(namespaces, "gone") == []


def test_the_admin_api_is_served_in_every_namespace(namespaces: Namespaces) -> None:
    client = Client(namespaces)
    assert (
        client.get("/ns/a/fakebbs/v1/version").json
        == client.get("/fakebbs/v1/version", headers={NAMESPACE_HEADER: "a"}).json
    )
    version = client.get("/ns/a/fakebbs/v1/version").json
    assert version is not None and version["namespace"] == "a"


def test_the_admin_api_can_be_turned_off() -> None:
    namespaces = served_namespaces(admin=False)
    client = Client(namespaces)
    response = client.get("/fakebbs/v1/version")
    assert response.status_code == 404
    assert "--admin" in response.get_data(as_text=True)
    assert client.post("/v1/ping").status_code == 200
    client.get("/ns/x/fakebbs/v1/version")
    assert namespaces.names() == ["default"]


def test_stopping_the_server_ends_streams_in_every_namespace(namespaces: Namespaces) -> None:
    server = namespaces.serve()
    with BBSClient(f"{server.url}/ns/a") as client, client.subscribe_to_events() as events:
        server.stop()
        with pytest.raises(EOFError):
            events.next(timeout=5)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_loopback_addresses_are_told_apart(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_namespace_list_is_json(namespaces: Namespaces) -> None:
    client = Client(namespaces)
    client.post("/ns/b/v1/ping")
    client.post("/ns/a/v1/ping")
    body = client.get("/fakebbs/v1/namespaces").get_data(as_text=True)
    assert json.loads(body) == {"namespaces": ["default", "a", "b"]}


def test_parallel_suites_share_one_served_process_safely() -> None:
    """What the README promises a Go user: several suites at once against one ``fakebbs
    serve``, each in its own namespace, seeding, faulting, calling, reading the journal and
    resetting through the admin API, with the same guids everywhere."""
    failures: list[str] = []

    def suite(name: str, url: str) -> None:
        admin = f"{url}/ns/{name}/fakebbs/v1"
        for _ in range(5):
            http_json("POST", f"{admin}/seed", {"desired_lrps": [{"process_guid": "web"}]})
            http_json(
                "POST",
                f"{admin}/faults",
                {"route": "RemoveDesiredLRP*", "error": {"type": "Deadlock"}, "times": 1},
            )
            with BBSClient(f"{url}/ns/{name}") as client:
                client.desire_lrp(desired_lrp("api"))
                try:
                    client.remove_desired_lrp("web")
                    failures.append(f"{name}: the fault did not apply")
                except errors.Deadlock:
                    pass
                guids = sorted(d.process_guid for d in client.desired_lrps())
            if guids != ["api", "web"]:
                failures.append(f"{name}: saw {guids}")
            _, journal = http_json("GET", f"{admin}/journal")
            spaces = {c["namespace"] for c in journal["calls"]}
            if spaces != {name} or len(journal["calls"]) != 3:
                failures.append(f"{name}: journal {spaces}, {len(journal['calls'])} calls")
            http_json("POST", f"{admin}/reset")

    with serving() as url:
        threads = [threading.Thread(target=suite, args=(f"node-{i}", url)) for i in range(1, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _, default = http_json("GET", f"{url}/fakebbs/v1/state")
    assert failures == []
    assert default["desired_lrps"] == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/ns/suite-a/v1/ping", {}), ("/v1/ping", {NAMESPACE_HEADER: "suite-a"})],
)
def test_the_namespace_is_named_in_the_servers_environ(
    namespaces: Namespaces, path: str, headers: dict[str, str]
) -> None:
    """The request log reads it from the environ the server made, not the app's copy."""
    environ = EnvironBuilder(path=path, method="POST", headers=list(headers.items())).get_environ()
    answer = namespaces(environ, lambda status, headers, exc_info=None: lambda data: None)
    b"".join(answer)
    assert environ[NAMESPACE_ENVIRON_KEY] == "suite-a"
    assert environ["PATH_INFO"] == path


SHELL_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shell" / "two_suites.sh"


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None, reason="needs bash and curl"
)
def test_the_shell_example_runs_two_suites_at_once() -> None:
    """examples/shell/two_suites.sh: two curl-only suites in their own namespaces of one
    server, each checking it never sees the other's state, faults or calls."""
    done = subprocess.run(
        ["bash", str(SHELL_EXAMPLE)],
        env={**os.environ, "FAKEBBS": f"{sys.executable} -W error -m fakebbs"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["suite-a: ok", "suite-b: ok"]


def test_without_an_admin_api_handed_in_its_paths_are_not_served_but_the_bbs_is() -> None:
    client = Client(Namespaces())
    admin = client.get("/fakebbs/v1/version")
    page = client.get("/fakebbs/ui/")
    assert (admin.status_code, admin.text) == (404, "fakebbs: the admin API is not served here\n")
    assert (page.status_code, page.text) == (404, "fakebbs: the live page is not served here\n")
    assert client.post("/v1/ping").status_code == 200


def test_the_standalone_modules_import_each_other_without_a_cycle() -> None:
    import ast
    import graphlib

    package = Path(__file__).resolve().parent.parent / "fakebbs" / "_standalone"
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        imported = graph.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text())):  # TYPE_CHECKING and local ones too
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module.removeprefix("fakebbs._standalone.")
                if node.module.startswith("fakebbs._standalone."):
                    imported.add(module)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle
    assert "admin" not in graph["namespaces"]
    assert "namespaces" not in graph["ui"]
