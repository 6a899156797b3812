"""The README is the short way in: what fakebbs is first, its two commands as CI runs them, a
screen for each use, and where to read on. Its code blocks run with the docs'
(tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")


def test_the_readme_says_what_fakebbs_is_before_anything_else() -> None:
    opening = TEXT.split("```")[0]
    assert opening.startswith("# fakebbs\n\nfakebbs is an **in-memory fake of Cloud Foundry")
    assert ".ci/run" not in opening


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = TEXT.split("```")
    assert blocks[1].strip() == "sh\npip install . && fakebbs serve"
    assert blocks[3].strip() == "sh\npip install -e '.[test]' && python -m pytest"


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[test]' && python -m pytest" in ci


def test_the_readme_shows_the_three_uses_with_code() -> None:
    sections = re.split(r"^## ", TEXT, flags=re.MULTILINE)[1:]
    uses = {s.splitlines()[0]: s for s in sections}
    assert list(uses) == ["In pytest", "As a standalone server", "Property-based tests", "Read on"]
    assert "def test_" in uses["In pytest"] and "def test_" in uses["Property-based tests"]
    assert "fakebbs serve" in uses["As a standalone server"]


def test_the_readme_stays_short() -> None:
    """About 150 lines: the rest is in docs/, which the README points to."""
    assert len(TEXT.splitlines()) <= 160
    assert "](docs/README.md)" in TEXT
