"""The benchmark command measures every figure it promises; the figures themselves are only
printed (speed is not asserted here), so these runs use tiny sizes."""

from __future__ import annotations

import json
import ssl

import pytest
import trustme

from fakebbs import FakeBBS, bench

TINY = bench.Sizes(
    calls=2,
    lists=(3,),
    list_repeats=1,
    rps_seconds=0.05,
    fixture_items=5,
    memory_items=20,
    repeats=1,
    diego_cells=3,
    diego_instances=150,
)


def names(report: bench.BenchReport) -> set[str]:
    return {f"{figure.section}: {figure.name}" for figure in report.figures}


def has_fixture_api(attribute: str) -> bool:
    return hasattr(FakeBBS(), attribute)


def test_every_section_measures_every_figure_with_a_baseline() -> None:
    report = bench.run(TINY)

    measured = names(report)
    for transport in ("plain HTTP", "mutual TLS"):
        for label in bench.CALL_LABELS:
            for stat in ("p50", "p99"):
                assert f"per call, {transport}: {label} {stat}" in measured
    for label in bench.CALL_LABELS:
        assert f"per call, in-process: {label} p50" in measured
    for label, _, _ in bench.LIST_ROUTES:
        assert f"lists of 3: {label} p50" in measured
    for request in ("ping", "get by guid"):
        for clients in ("1 client", "8 clients"):
            section = "requests per second (server in a child process)"
            assert f"{section}: {request}, {clients}" in measured
    layers = [f for f in report.figures if f.section.startswith("server layer")]
    assert len(layers) == 3
    for figure in report.figures:
        if figure.section.startswith(("per call", "lists", "requests", "server layer")):
            assert figure.value is not None and figure.value > 0, figure.name
            assert figure.baseline is not None and figure.baseline > 0, figure.name
            assert figure.ratio == figure.value / figure.baseline
    memory = [f for f in report.figures if f.section.startswith("memory")]
    # at this tiny size the resident set may not grow by a page: measured, not necessarily > 0
    assert len(memory) == 1 and memory[0].value is not None and memory[0].value >= 0


def test_fixture_figures_are_not_available_exactly_when_the_fake_lacks_the_api() -> None:
    report = bench.run(TINY, sections=["fixtures"])

    by_name = {figure.name: figure for figure in report.figures}
    assert by_name["serve() start to first answer p50"].value is not None
    assert by_name["stop() p50"].value is not None
    assert by_name["reset(), 10 desired LRPs"].value is not None
    seeding = by_name["seed.desired_lrps(5, instances=3, running=3)"]
    assert (seeding.value is None) == (not has_fixture_api("seed"))
    assert (by_name["snapshot() of 5 desired LRPs"].value is None) == (
        not has_fixture_api("snapshot")
    )
    journal = next(f for f in report.figures if f.name.startswith("call journal"))
    assert (journal.value is None) == (not has_fixture_api("calls"))


def test_every_fixture_figure_is_measured() -> None:
    report = bench.run(TINY, sections=["fixtures"])

    unavailable = [figure.name for figure in report.figures if figure.value is None]
    assert unavailable == []
    journal = next(f for f in report.figures if f.name.startswith("call journal"))
    assert journal.baseline_name == "journal off" and journal.ratio is not None


def test_a_real_bbs_gets_the_same_calls_in_a_third_column() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    ca.issue_cert("client").configure_cert(client_context)
    # Another fake stands in for the real BBS: only the client certificate matters here.
    with FakeBBS().serve(ssl_context=server_context) as real:
        report = bench.run(TINY, sections=["calls"], real_url=real.url, real_context=client_context)

    mutual = [f for f in report.figures if f.section == "per call, mutual TLS"]
    assert mutual and all(f.real is not None and f.real > 0 for f in mutual)
    assert all(f.real is None for f in report.figures if f.section != "per call, mutual TLS")
    assert "real BBS" in report.text()


def test_json_output_is_one_object_with_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    status = bench.main(["--quick", "--json", "--only", "fixtures"])

    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(output) == {"machine", "seconds", "figures"}
    assert output["machine"]["cpus"]
    assert {"name", "value", "baseline", "ratio", "unit"} <= set(output["figures"][0])


def test_text_output_says_which_figures_are_not_available(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = bench.main(["--quick", "--only", "fixtures"])

    text = capsys.readouterr().out
    assert status == 0
    assert "reset(), 10 desired LRPs" in text
    assert ("n/a (not available)" in text) == (
        not all(has_fixture_api(name) for name in ("seed", "snapshot", "restore", "calls"))
    )


def test_a_real_bbs_url_without_a_client_certificate_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.main(["--real-url", "https://127.0.0.1:8889"]) == 2
    assert "--real-cert" in capsys.readouterr().err


def test_the_strategies_section_prints_each_figure_beside_its_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = bench.main(["--strategies", "--quick"])

    text = capsys.readouterr().out
    assert status == 0
    for name, target in (
        ("desired_lrps()", ">= 200"),
        ("desired_lrps(minimal=True)", ">= 2000"),
        ("BBSStateMachine, every rule group on, 30 steps", ">= 20"),
    ):
        [row] = [line for line in text.splitlines() if line.strip().startswith(name + " ")]
        assert target in row and "/s" in row


def test_a_plain_run_leaves_the_strategies_out() -> None:
    assert bench.STRATEGIES not in bench.SECTIONS


def test_the_diego_section_times_every_instance_running_beside_a_hand_walk() -> None:
    report = bench.run(TINY, sections=["diego"])

    figures = {figure.name: figure for figure in report.figures}
    assert set(figures) == {"wall time", "CPU time", "instances per second"}
    for figure in figures.values():
        assert figure.value is not None and figure.value > 0
        assert figure.baseline is not None and figure.baseline > 0
    assert "3 cells, 150 instances" in figures["wall time"].section
    assert figures["wall time"].target == ""  # the 10 s target is for 1,000 and 100,000
