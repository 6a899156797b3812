"""The README tells the truth about what is built."""

from __future__ import annotations

from pathlib import Path

from fakebbs._coverage import route_coverage_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_route_table_is_the_current_coverage() -> None:
    assert route_coverage_markdown() in README.read_text(encoding="utf-8"), (
        "regenerate it with: python -m fakebbs._coverage")


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = README.read_text(encoding="utf-8").split("```")
    assert blocks[1].strip() == "sh\npip install . && fakebbs serve"
    assert blocks[3].strip() == "sh\npip install -e '.[test]' && python -m pytest"


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && python -m pytest" in ci
