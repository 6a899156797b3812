"""fakebbs._http.cheroot: the cheroot internals the server relies on (every subclass and
override, checked on import), and the cheroot range declared.

The suite runs on whichever cheroot is installed; CI also runs it on the lowest version declared
in pyproject.toml (8.4 and older lack what fakebbs._http.cheroot checks for; 8.5's own worker pool,
which the benchmark's baseline uses, raises a DeprecationWarning), with ``FAKEBBS_CHEROOT=lowest``
set so that this module checks that the lowest is what is installed::

    python -m venv /tmp/cheroot-lowest
    /tmp/cheroot-lowest/bin/pip install -e '.[test]' 'cheroot==8.6.0'
    FAKEBBS_CHEROOT=lowest /tmp/cheroot-lowest/bin/python -m pytest -p no:cacheprovider -q
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from pathlib import Path

import pytest
from cheroot import server as cheroot_server

from fakebbs._http import cheroot as _cheroot

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def declared_range() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ``cheroot>=LOW,<HIGH`` requirement of pyproject.toml, as version tuples."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (spec,) = [d for d in dependencies if re.match(r"cheroot\b", d)]
    match = re.fullmatch(r"cheroot>=([\d.]+),<([\d.]+)", spec.replace(" ", ""))
    assert match, f"expected cheroot>=LOW,<HIGH in pyproject.toml, found {spec!r}"
    return _version(match.group(1)), _version(match.group(2))


def test_the_installed_cheroot_is_inside_the_declared_range() -> None:
    low, high = declared_range()
    installed = _version(_cheroot.VERSION)
    assert low <= installed < high
    expected = os.environ.get("FAKEBBS_CHEROOT")
    if expected is not None:  # the CI step that runs on the lowest version says so
        assert expected == "lowest", f"FAKEBBS_CHEROOT={expected!r}: only 'lowest' is known"
        assert installed[: len(low)] == low


def test_every_attribute_the_server_needs_is_there() -> None:
    _cheroot.verify()  # what the import did; no exception


def test_a_missing_attribute_fails_with_the_version_and_the_attribute_named() -> None:
    class OldRequest:
        def __init__(self) -> None:
            self.outheaders: list[object] = []

    with pytest.raises(ImportError) as raised:
        _cheroot.verify([(OldRequest, "sent_headers", OldRequest.__init__)], version="7.0.0")
    message = str(raised.value)
    assert "cheroot 7.0.0" in message
    assert "OldRequest.sent_headers" in message
    assert "pyproject.toml" in message


def test_an_attribute_set_in_the_named_method_counts_as_present() -> None:
    class Request:
        def __init__(self) -> None:
            self.sent_headers = False

    _cheroot.verify([(Request, "sent_headers", Request.__init__)])
    _cheroot.verify([(cheroot_server.HTTPRequest, "close_connection", None)])


def test_a_hook_cheroot_no_longer_calls_fails_with_the_version_and_the_caller_named() -> None:
    def send_headers_now(self: object) -> None:
        """A release that sends headers without calling ``send_headers``."""

    with pytest.raises(ImportError) as raised:
        _cheroot.verify([], version="12.0.0", called=[(send_headers_now, "send_headers")])
    message = str(raised.value)
    assert "cheroot 12.0.0" in message
    assert "send_headers_now to use send_headers" in message


def test_a_renamed_hook_fails_at_import_although_the_override_would_still_load() -> None:
    class RenamedRequest:  # a release that calls it ``write_headers`` instead
        def write_headers(self) -> None:
            pass

    with pytest.raises(ImportError, match=r"RenamedRequest\.send_headers"):
        _cheroot.verify([(RenamedRequest, "send_headers", None)], version="12.0.0")


def test_an_override_whose_cheroot_method_takes_other_parameters_fails_at_import() -> None:
    class NewRequest(cheroot_server.HTTPRequest):  # as if a release sent headers with a flag
        def send_headers(self, flush: bool = True) -> None:
            pass

    class OurRequest(NewRequest):
        def send_headers(self) -> None:  # type: ignore[override]
            pass

    NewRequest.__module__ = "cheroot.server"
    with pytest.raises(ImportError) as raised:
        _cheroot.verify_overrides([OurRequest], version="12.0.0")
    message = str(raised.value)
    assert "cheroot 12.0.0" in message
    assert "NewRequest.send_headers to take (self)" in message
    assert "changed to (self, flush)" in message


def test_the_overrides_take_what_the_installed_cheroot_passes() -> None:
    _cheroot.verify_overrides(SUBCLASSES, own_constructors=OWN_CONSTRUCTORS)  # no exception


def test_a_constructor_only_fakebbs_calls_may_take_its_own_parameters() -> None:
    with pytest.raises(ImportError, match=r"Adapter\.__init__"):
        _cheroot.verify_overrides([_cheroot.ContextSSLAdapter])


SUBCLASSES = [
    _cheroot.Gateway,
    _cheroot.Request,
    _cheroot.Connection,
    _cheroot.ContextSSLAdapter,
    _cheroot.CherootServer,
]
OWN_CONSTRUCTORS = [_cheroot.ContextSSLAdapter, _cheroot.CherootServer]


@pytest.mark.parametrize("ours", SUBCLASSES, ids=lambda cls: cls.__name__)
def test_every_name_a_subclass_overrides_is_checked_on_import(ours: type) -> None:
    checked = {(owner, name) for owner, name, _ in _cheroot._REQUIRED}
    cheroots = [cls for cls in ours.__mro__[1:] if cls.__module__.startswith("cheroot.")]
    overridden = [
        name
        for name in vars(ours)
        if not (name.startswith("__") and name.endswith("__"))
        and name != "_abc_impl"
        and any(hasattr(cls, name) for cls in cheroots)
    ]
    assert overridden, f"{ours.__name__} overrides nothing of cheroot's"
    unchecked = [name for name in overridden if not any((cls, name) in checked for cls in cheroots)]
    assert unchecked == []


def test_in_the_server_only_the_compatibility_module_imports_cheroot() -> None:
    package = Path(__file__).resolve().parent.parent / "fakebbs" / "_http"
    importers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if re.search(r"^\s*(from|import) cheroot\b", path.read_text(), re.MULTILINE)
    )
    assert importers == ["cheroot.py"]


def test_prefill_puts_bytes_read_ahead_before_what_the_reader_holds() -> None:
    from cheroot.makefile import MakeFile

    class Connection:
        def __init__(self, sock: socket.socket) -> None:
            self.rfile = MakeFile(sock, "rb", 8192)

    ours, theirs = socket.socketpair()
    with ours, theirs:
        conn = Connection(ours)
        theirs.sendall(b"second line\nthird")
        assert conn.rfile.readline() == b"second line\n"  # "third" stays in its buffer
        _cheroot.prefill(conn, b"first line\n")  # type: ignore[arg-type]
        assert conn.rfile.readline() == b"first line\n"
        theirs.shutdown(socket.SHUT_WR)
        assert conn.rfile.read() == b"third"
