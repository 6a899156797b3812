"""The README tells the truth: its commands, its route table and its examples."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from fakebbs import BBSClient
from fakebbs._control.selectors import resolve_routes
from fakebbs._http.coverage import route_coverage_markdown
from fakebbs.routes import ROUTES, ROUTES_BY_NAME

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, re.DOTALL)


def test_the_readme_route_table_is_the_current_coverage() -> None:
    assert route_coverage_markdown() in TEXT, "regenerate it with: python -m fakebbs._http.coverage"


def test_the_route_table_shows_the_exact_selector_of_every_row() -> None:
    rows = re.findall(r"^\| `(/v1/[^`]*)` \| (GET|POST) \| `(\w+)` \|", TEXT, re.MULTILINE)
    assert rows == [(r.path, r.method, r.name) for r in ROUTES]
    for path, method, selector in rows:
        (chosen,) = resolve_routes(selector)
        assert (ROUTES_BY_NAME[chosen].path, ROUTES_BY_NAME[chosen].method) == (path, method)
    assert len({selector for _, _, selector in rows}) == len(rows)


def test_the_readme_says_what_fakebbs_is_before_anything_else() -> None:
    opening = TEXT.split("```")[0]
    assert opening.startswith("# fakebbs\n\nfakebbs is an **in-memory fake of Cloud Foundry")
    assert ".ci/run" not in opening


def test_the_readme_gives_bbsclients_whole_signature() -> None:
    parameters = inspect.signature(BBSClient).parameters.values()
    shown = ", ".join(
        p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters
    )
    assert f"`fakebbs.BBSClient({shown})`" in TEXT


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = TEXT.split("```")
    assert blocks[1].strip() == "sh\npip install . && fakebbs serve"
    assert blocks[3].strip() == "sh\npip install -e '.[test]' && python -m pytest"


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && python -m pytest" in ci


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.splitlines()[0][:40])
def test_each_readme_example_runs(example: str, pytester: pytest.Pytester) -> None:
    """A block with tests runs under pytest; any other block runs as a script."""
    if "def test_" in example:
        pytester.makepyfile(test_readme_example=example)
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=example.count("def test_"))
    else:
        exec(compile(example, "README.md", "exec"), {})
