"""The built wheel: what it ships (the models, their stubs, py.typed; not the tests), and that it
imports and runs from a fresh virtual environment, away from this checkout."""

from __future__ import annotations

import importlib.metadata
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What a source distribution of the project holds; caches, build output and venvs stay behind.
SOURCES = ["pyproject.toml", "README.md", "fakebbs", "proto", "tests", "examples"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")


def _setuptools_builds_the_license() -> bool:
    """pyproject.toml's SPDX ``license`` string needs setuptools 77 or newer."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return major >= 77


pytestmark = [
    pytest.mark.wheel,
    pytest.mark.skipif(
        not _setuptools_builds_the_license(),
        reason="building the wheel offline needs setuptools>=77: pip install -e '.[dev]'",
    ),
]


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built without network from a copy of the checkout (the build leaves files
    beside the sources, and the checkout stays untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=SKIP)
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, "--quiet", "--wheel-dir", str(out), str(src)], cwd=src)
    [built] = out.glob("fakebbs-*.whl")
    return built


def test_the_wheel_ships_the_models_their_stubs_py_typed_and_the_page_and_no_tests(
    wheel: Path,
) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.stem for p in (REPO / "fakebbs" / "models").glob("*_pb2.py")}

    assert modules, "no generated models in the checkout"
    for stem in modules:
        assert f"fakebbs/models/{stem}.py" in names
        assert f"fakebbs/models/{stem}.pyi" in names
    assert "fakebbs/models/__init__.py" in names
    assert "fakebbs/py.typed" in names
    for page_file in ("index.html", "app.js", "app.css"):  # the live page, /fakebbs/ui/
        assert f"fakebbs/_standalone/page/{page_file}" in names
    assert [n for n in names if not n.startswith(("fakebbs/", "fakebbs-"))] == []
    assert [n for n in names if "/tests/" in n or n.startswith("tests/")] == []


def test_the_wheel_imports_and_serves_from_a_fresh_virtual_environment(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    _run([*pip, "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)
    # The dependencies (werkzeug, protobuf, cheroot) come from this environment, appended after
    # the fresh one's own site-packages; a path line in a .pth file does not run the .pth files
    # it points at, so this environment's editable fakebbs stays out of sight.
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    fresh_site = Path(_run([str(python), "-c", where], tmp_path).strip())
    (fresh_site / "_fakebbs_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    script = """
import sys
from pathlib import Path

import fakebbs
from fakebbs import FakeBBS, models
from fakebbs.client import BBSClient

assert Path(fakebbs.__file__).is_relative_to(sys.prefix), fakebbs.__file__
wire = models.DesiredLRP(instances=3).SerializeToString()
assert models.DesiredLRP.FromString(wire).instances == 3
with FakeBBS().serve() as server, BBSClient(server.url) as bbs:
    assert bbs.ping()
    bbs.upsert_domain("from-the-wheel", 0)
    print(bbs.domains())

import urllib.request
from fakebbs._standalone.served import served_namespaces

with served_namespaces().serve() as server:
    page = urllib.request.urlopen(server.url + "/fakebbs/ui/", timeout=10).read()
    script = urllib.request.urlopen(server.url + "/fakebbs/ui/app.js", timeout=10).read()
    print(b"<title>fakebbs</title>" in page, b"EventSource" in script)
"""
    out = _run([str(python), "-I", "-W", "error", "-c", script], cwd=tmp_path)
    assert out.split() == ["['from-the-wheel']", "True", "True"]
    assert "usage: fakebbs" in _run([str(env_dir / "bin" / "fakebbs"), "--help"], tmp_path)
