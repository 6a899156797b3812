"""The pytest plugin, as a downstream suite sees it: generated test files run by pytester."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

HEADER = """
import threading
import pytest
from fakebbs import FakeBBS, errors, faults, models
from fakebbs.client import BBSClient

def lrp(guid, instances=1):
    run = models.Action(run_action=models.RunAction(path="/bin/app", user="vcap"))
    desired = models.DesiredLRP(process_guid=guid, domain="cf-apps", instances=instances,
                                root_fs="preloaded:cflinuxfs4", action=run)
    desired.metric_tags["source_id"].static = guid
    return desired
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_each_fixture_works_from_a_plain_test_file(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_server(fakebbs_server):
    assert isinstance(fakebbs_server, FakeBBS)
    assert fakebbs_server.url.startswith("http://127.0.0.1:")

def test_fakebbs_is_the_served_fake(fakebbs, fakebbs_server):
    assert fakebbs is fakebbs_server

def test_client_talks_over_the_socket(fakebbs, fakebbs_client):
    assert fakebbs_client.url == fakebbs.url
    fakebbs_client.desire_lrp(lrp("web", instances=2))
    assert [a.state for a in fakebbs_client.actual_lrps()] == ["UNCLAIMED"] * 2
    fakebbs.calls.assert_called("DesireDesiredLRP", times=1)

def test_in_process_is_never_served(fakebbs_in_process):
    assert fakebbs_in_process.server is None
    with fakebbs_in_process.client() as bbs:
        assert bbs.ping()
""",
    )
    result.assert_outcomes(passed=4)


def test_two_tests_do_not_see_each_others_state(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.parametrize("attempt", [1, 2])
def test_desire_the_same_guid(fakebbs, fakebbs_client, attempt):
    fakebbs.fail("Domains", errors.Unrecoverable())
    fakebbs_client.desire_lrp(lrp("web"))  # ResourceExists if the last test's LRP were kept
    assert len(fakebbs.calls) == 1
""",
    )
    result.assert_outcomes(passed=2)


def test_a_failing_assertion_shows_the_near_miss_report(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_wrong_count(fakebbs, fakebbs_client):
    fakebbs_client.desire_lrp(lrp("web", instances=2))
    fakebbs.calls.assert_called("DesireDesiredLRP", where={"desired_lrp.instances": 3})
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected DesireDesiredLRP where {desired_lrp.instances=3} to be called*",
            "*near misses (same route, other fields):*",
            "*desired_lrp.instances: expected 3, got 2*",
        ]
    )


def test_an_error_inside_the_fake_fails_the_test_that_caused_it(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
import dataclasses

def test_breaks_the_fake(fakebbs, fakebbs_client):
    def broken(*args):
        raise RuntimeError("bug inside the fake")
    handlers = fakebbs.wsgi_app.handlers
    original = handlers["Domains"]
    handlers["Domains"] = dataclasses.replace(original, run=broken)
    try:
        with pytest.raises(errors.InvalidResponse):
            fakebbs_client.domains()
    finally:
        handlers["Domains"] = original

def test_next_one_is_clean(fakebbs, fakebbs_client):
    assert fakebbs_client.domains() == []
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_breaks_the_fake*"])
    result.stdout.fnmatch_lines(["*RuntimeError: bug inside the fake*"])


def test_the_address_and_tls_fixtures_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.fixture(scope="session")
def fakebbs_ssl_context(fakebbs_certificates):
    return fakebbs_certificates.server_context()  # requires a client certificate

@pytest.fixture(scope="session")
def fakebbs_client_options(fakebbs_certificates):
    return {"ssl_context": fakebbs_certificates.client_context()}
"""
    )
    result = run(
        pytester,
        """
def test_mutual_tls(fakebbs, fakebbs_client):
    assert fakebbs.url.startswith("https://127.0.0.1:")
    assert fakebbs_client.ping()
    with pytest.raises(OSError):
        BBSClient(fakebbs.url).domains()  # no client certificate: refused
""",
    )
    result.assert_outcomes(passed=1)


def test_each_xdist_worker_has_its_own_server(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import os

@pytest.mark.parametrize("n", range(4))
def test_worker(fakebbs, fakebbs_client, n):
    fakebbs_client.upsert_domain(f"d-{n}", 0)
    assert fakebbs_client.domains() == [f"d-{n}"]
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(f"url-{worker}-{os.getpid()}.txt", "a") as out:
        out.write(fakebbs.url + chr(10))
""",
        "-n",
        "2",
    )
    result.assert_outcomes(passed=4)
    files = sorted(pytester.path.glob("url-*.txt"))
    urls = {path.name: set(path.read_text().split()) for path in files}
    assert len(urls) == 2, urls  # two worker processes ran tests
    first, second = urls.values()
    assert len(first) == len(second) == 1  # one server per worker, for all its tests
    assert first != second


TLS_CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def fakebbs_ssl_context(fakebbs_certificates):
    return fakebbs_certificates.server_context()

@pytest.fixture(scope="session")
def fakebbs_client_options(fakebbs_certificates):
    return {"ssl_context": fakebbs_certificates.client_context()}
"""

PLAIN_TESTS = """
def test_plain(fakebbs, fakebbs_client, fakebbs_server):
    assert fakebbs.url.startswith("http://") and fakebbs_server is fakebbs
    fakebbs_client.upsert_domain("plain", 0)
    assert fakebbs_client.domains() == ["plain"]
"""

TLS_TESTS = """
import threading

def test_tls(fakebbs, fakebbs_client, fakebbs_server):
    assert fakebbs.url.startswith("https://") and fakebbs_server is fakebbs
    fakebbs_client.upsert_domain("tls", 0)
    seen = []
    with fakebbs.client() as second:  # configured as the plugin's client: mutual TLS
        lister = threading.Thread(target=lambda: seen.extend(second.domains()))
        with fakebbs.hold("Domains") as gate:
            lister.start()
            gate.wait_arrived(timeout=5)
        lister.join()
    assert seen == ["tls"]
"""


def two_suites(pytester: pytest.Pytester, tls_conftest: str = TLS_CONFTEST) -> None:
    """The issue's layout: ``tests`` on plain HTTP, ``tests_tls`` overriding for mutual TLS."""
    pytester.mkdir("tests")
    pytester.mkdir("tests_tls")
    (pytester.path / "tests" / "test_plain.py").write_text(PLAIN_TESTS)
    (pytester.path / "tests_tls" / "conftest.py").write_text(tls_conftest)
    (pytester.path / "tests_tls" / "test_tls.py").write_text(TLS_TESTS)


@pytest.mark.parametrize("order", [("tests", "tests_tls"), ("tests_tls", "tests")])
def test_a_plain_and_a_mutual_tls_directory_each_get_their_own_server(
    pytester: pytest.Pytester, order: tuple[str, str]
) -> None:
    two_suites(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *order)
    result.assert_outcomes(passed=2)


def test_one_fixed_port_asked_for_twice_with_other_overrides_is_a_setup_error(
    pytester: pytest.Pytester,
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pytester.makeconftest(
        f"""
import pytest

@pytest.fixture(scope="session")
def fakebbs_address():
    return ("127.0.0.1", {port})
"""
    )
    two_suites(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests", "tests_tls")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"fakebbs_address ('127.0.0.1', {port}) already serves a fake for other overrides"
            " (plain HTTP, *first requested by tests/test_plain.py::test_plain);"
            " here they are mutual TLS or HTTPS (an ssl.SSLContext)*port 0 (a free port)"
        ]
    )


def test_a_served_fakes_clients_are_configured_as_the_plugins_client(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.fixture(scope="session")
def fakebbs_client_options():
    return {"retries": 2, "retry_interval": 0}
"""
    )
    result = run(
        pytester,
        """
def test_client_options_apply_unless_told_otherwise(fakebbs, fakebbs_client):
    assert fakebbs_client.retries == 2
    with fakebbs.client() as bbs:
        assert (bbs.retries, bbs.retry_interval) == (2, 0)
    with fakebbs.client(retries=0) as bbs:
        assert (bbs.retries, bbs.retry_interval) == (0, 0)
""",
    )
    result.assert_outcomes(passed=1)


def test_fakebbs_options_configure_the_served_fake(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest

@pytest.fixture(scope="session")
def fakebbs_options():
    return {"max_task_retries": 0, "journal_size": 2}
"""
    )
    result = run(
        pytester,
        """
def test_options(fakebbs, fakebbs_client):
    for n in range(3):
        fakebbs_client.upsert_domain(f"d-{n}", 0)
    assert len(fakebbs.calls) == 2 and fakebbs.calls.dropped == 1
    fakebbs.seed.task("t-1", state="PENDING")
    fakebbs_client.reject_task("t-1", "no room")  # no retries: the first rejection fails it
    assert fakebbs_client.task_by_guid("t-1").state == models.Task.Completed

def test_in_process_fakes_take_them_too(fakebbs_in_process):
    for n in range(3):
        fakebbs_in_process.seed.domain(f"d-{n}")
    with fakebbs_in_process.client() as bbs:
        bbs.domains(); bbs.domains(); bbs.domains()
    assert len(fakebbs_in_process.calls) == 2
""",
    )
    result.assert_outcomes(passed=2)


# -- --fakebbs-ui ------------------------------------------------------------------------------

# A conftest of the generated suite: it opens the page URL of each failure report while the
# session (and so the page) is still there, and keeps what the page's views answered.
PAGE_READER = """
import json, re, urllib.request

def pytest_runtest_logreport(report):
    for name, text in report.sections:
        if name == "fakebbs":
            url = re.search(r"(http://\\S+/fakebbs/ui/)", text).group(1)
            page = urllib.request.urlopen(url, timeout=10).read().decode()
            views = url.replace("/fakebbs/ui/", "/fakebbs/v1/")
            lrps = json.load(urllib.request.urlopen(views + "lrps", timeout=10))
            journal = json.load(urllib.request.urlopen(views + "journal/page", timeout=10))
            with open("seen.json", "w") as out:
                json.dump({"url": url, "title": "<title>fakebbs</title>" in page,
                           "lrps": [l["process_guid"] for l in lrps["lrps"]],
                           "routes": [c["route"] for c in journal["calls"]]}, out)
"""

FAILING_AFTER_A_DESIRE = """
def test_desires_then_fails(fakebbs, fakebbs_client):
    fakebbs_client.desire_lrp(lrp("held-on-failure", instances=2))
    assert False, "the test fails"

def test_the_next_test_resets_the_fake(fakebbs):
    assert fakebbs.snapshot().desired_lrps == {}
"""


def test_fakebbs_ui_prints_a_live_page_of_what_the_fake_held_when_a_test_failed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(PAGE_READER)

    result = run(pytester, FAILING_AFTER_A_DESIRE, "--fakebbs-ui")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- fakebbs -*",
            "what the BBS held when it failed: http://127.0.0.1:*/ns/"
            "test_fakebbs_ui_prints*.py-test_desires_then_fails/fakebbs/ui/",
        ]
    )
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen["title"] is True
    assert seen["lrps"] == ["held-on-failure"]
    assert seen["routes"] == ["DesireDesiredLRP"]


def test_without_fakebbs_ui_a_failure_report_has_no_page(pytester: pytest.Pytester) -> None:
    result = run(pytester, FAILING_AFTER_A_DESIRE)

    result.assert_outcomes(passed=1, failed=1)
    assert "fakebbs/ui/" not in result.stdout.str()
