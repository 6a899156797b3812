"""The documentation tells the truth: every page of docs/ is in the index and runs its code,
every link resolves, every how-to a page shows is the file that runs, and the tables generated
from the code are today's."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from fakebbs import BBSClient
from fakebbs._control.selectors import resolve_routes
from fakebbs._http.coverage import route_coverage_markdown
from fakebbs.routes import ROUTES, ROUTES_BY_NAME

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
HOWTOS = sorted((ROOT / "tests" / "howto").glob("test_howto_*.py"))
MARKDOWN = [ROOT / "README.md", *PAGES]

# A how-to shown on a page: the line naming its file, then the file's whole text.
SHOWN = re.compile(r"^From \[`(tests/howto/\w+\.py)`\]\(\.\./\1\):\n\n\Z", re.MULTILINE)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Block:
    page: Path
    language: str
    code: str
    shows: str | None  # the how-to file the block shows, if it is one

    @property
    def name(self) -> str:
        first = self.code.splitlines()[0][:40] if self.code else ""
        return f"{self.page.relative_to(ROOT)}:{first}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for fence in FENCE.finditer(text):
        shown = SHOWN.search(text, 0, fence.start())
        found.append(Block(page, fence.group(1), fence.group(2), shown and shown.group(1)))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.MULTILINE)}


EXAMPLES = [b for page in MARKDOWN for b in blocks(page) if b.language == "python"]
RUN = [b for b in EXAMPLES if b.shows is None]


def test_the_index_lists_every_page_in_reading_order() -> None:
    listed = re.findall(r"^\d+\. \[[^]]+\]\(([\w-]+\.md)\)", INDEX.read_text(), re.MULTILINE)
    assert sorted(listed) == sorted(p.name for p in PAGES if p != INDEX)
    assert listed[0] == "getting-started.md" and listed[-1] == "contributing.md"


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_the_repository_resolves(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"``.*?``", "", text)  # a link shown as code is not a link
    for target in LINK.findall(text):
        if re.match(r"\w+://", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: no heading for {target}"


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_and_module_named_exists(page: Path) -> None:
    """Paths such as `fakebbs/_rules/` and commands such as `python -m fakebbs.bench` stay
    true when modules move."""
    text = page.read_text(encoding="utf-8")
    for path in re.findall(r"`((?:fakebbs|tests|examples|proto|docs)/[^`\s]*)`", text):
        if path != "tests/howto/test_howto_x.py":  # the placeholder in contributing.md
            assert list(ROOT.glob(path.rstrip("/"))), f"{page.name}: no {path}"
    for module in re.findall(r"python -m (fakebbs[\w.]*)", text):
        assert importlib.util.find_spec(module), f"{page.name}: no module {module}"


def test_every_page_has_code_that_runs() -> None:
    pages_with_code = {b.page for b in EXAMPLES}
    assert [p for p in PAGES if p != INDEX and p not in pages_with_code] == []


@pytest.mark.parametrize("example", RUN, ids=lambda b: b.name)
def test_each_example_runs(example: Block, request: pytest.FixtureRequest) -> None:
    """A block with tests runs under pytest; any other block runs as a script."""
    if "def test_" in example.code:
        # Only here: pytester forgets the modules imported while it is set up, and a module
        # with a native part (cryptography's, under trustme) cannot be imported twice.
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makepyfile(test_docs_example=example.code)
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=example.code.count("def test_"))
    else:
        exec(compile(example.code, str(example.page), "exec"), {})


def test_every_howto_is_shown_as_it_is() -> None:
    """The how-tos run as tests of their own (tests/howto/); a page shows each one whole."""
    shown = {b.shows: b for b in EXAMPLES if b.shows is not None}
    assert sorted(shown) == [str(p.relative_to(ROOT)) for p in HOWTOS]
    for name, block in shown.items():
        assert block.code == (ROOT / name).read_text(encoding="utf-8"), (
            f"{block.page.name} shows an old copy of {name}: paste the file again"
        )


@pytest.mark.parametrize(
    "block",
    [b for page in MARKDOWN for b in blocks(page) if b.language == "json"],
    ids=lambda b: b.name,
)
def test_each_json_block_is_json(block: Block) -> None:
    json.loads(block.code)


FIDELITY = (DOCS / "fidelity.md").read_text(encoding="utf-8")


def test_the_route_table_is_the_current_coverage() -> None:
    assert route_coverage_markdown() in FIDELITY, (
        "regenerate it with: python -m fakebbs._http.coverage"
    )


def test_the_route_table_shows_the_exact_selector_of_every_row() -> None:
    rows = re.findall(r"^\| `(/v1/[^`]*)` \| (GET|POST) \| `(\w+)` \|", FIDELITY, re.MULTILINE)
    assert rows == [(r.path, r.method, r.name) for r in ROUTES]
    for path, method, selector in rows:
        (chosen,) = resolve_routes(selector)
        assert (ROUTES_BY_NAME[chosen].path, ROUTES_BY_NAME[chosen].method) == (path, method)
    assert len({selector for _, _, selector in rows}) == len(rows)


def test_the_client_page_gives_bbsclients_whole_signature() -> None:
    parameters = inspect.signature(BBSClient).parameters.values()
    shown = ", ".join(
        p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in parameters
    )
    assert f"`fakebbs.BBSClient({shown})`" in (DOCS / "client.md").read_text(encoding="utf-8")
