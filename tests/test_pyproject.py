"""The project's declared dependencies: what CI installs must not change under it by itself."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
LINT_AND_TYPE_TOOLS = {"ruff", "mypy", "types-protobuf"}


def _dev_requirements() -> dict[str, str]:
    dev = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["dev"]
    split = (re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", requirement) for requirement in dev)
    return {m.group(1).lower(): m.group(2) for m in split if m}


def test_the_lint_and_type_tools_are_pinned_exactly() -> None:
    # A new release of any of them (a stricter stub, a new rule) would otherwise fail CI for a
    # change that touched nothing: types-protobuf 7.35 did.
    requirements = _dev_requirements()
    assert LINT_AND_TYPE_TOOLS <= requirements.keys()
    for tool in LINT_AND_TYPE_TOOLS:
        assert re.fullmatch(r"==[\w.]+", requirements[tool]), (tool, requirements[tool])
