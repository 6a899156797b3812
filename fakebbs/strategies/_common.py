"""Building blocks shared by the model strategies: message assembly, names, text, URLs, JSON."""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from hypothesis.vendor import pretty

from fakebbs._control.selectors import _is_map, _is_repeated
from fakebbs._rules.wire import GO_JSON_ESCAPES as _GO_JSON_ESCAPES

__all__ = [
    "GUID_ALPHABET",
    "Construct",
    "go_json",
    "guids",
    "message",
    "named",
    "pretty_message",
    "register_pretty_printers",
    "shown_as_call",
    "names",
    "nonnegative",
    "route_json",
    "root_fs_urls",
    "texts",
    "timestamps",
]

M = TypeVar("M", bound=Message)
T = TypeVar("T")
P = ParamSpec("P")

GUID_ALPHABET = string.ascii_letters + string.digits + "-_"
"""The characters of upstream's process and task guid pattern ``^[a-zA-Z0-9_-]+$``."""

_INT32_MAX = 2**31 - 1


def message(
    cls: type[M],
    required: Mapping[str, SearchStrategy[Any]] | None = None,
    optional: Mapping[str, SearchStrategy[Any]] | None = None,
    *,
    max_optional: int = 3,
) -> SearchStrategy[M]:
    """``cls(**fields)`` with every ``required`` field and up to ``max_optional`` of the
    ``optional`` ones (a few at a time keeps draws small and fast; across examples every
    field turns up).

    Optional fields shrink towards absent, so a failing example keeps only what it needs.
    """
    return _MessageStrategy(cls, dict(required or {}), dict(optional or {}), max_optional)


class _MessageStrategy(SearchStrategy[M]):
    """Draws the required fields, then a few optional ones chosen by index (a unique list
    that shrinks towards empty), and builds the message once."""

    def __init__(
        self,
        cls: type[M],
        required: dict[str, SearchStrategy[Any]],
        optional: dict[str, SearchStrategy[Any]],
        max_optional: int,
    ) -> None:
        super().__init__()
        self.cls = cls
        self.required = tuple(required.items())
        self.optional = tuple(optional.items())
        count = min(max_optional, len(self.optional))
        self.chosen: SearchStrategy[list[int]] = (
            st.lists(st.integers(0, len(self.optional) - 1), unique=True, max_size=count)
            if count
            else st.just([])
        )

    def do_draw(self, data: Any) -> M:
        fields = {name: data.draw(strategy) for name, strategy in self.required}
        for index in sorted(data.draw(self.chosen)):
            name, strategy = self.optional[index]
            fields[name] = data.draw(strategy)
        return self.cls(**fields)

    def __repr__(self) -> str:
        return f"message({self.cls.__name__})"


class _Named(SearchStrategy[Any]):
    """A strategy shown by a short name (the public call that made it), so statistics and
    error messages do not print kilobytes of nested strategies. It draws through to the
    strategy it names, without a level of its own."""

    def __init__(self, strategy: SearchStrategy[Any], name: str) -> None:
        super().__init__()
        self.strategy = strategy
        self.name = name

    def do_validate(self) -> None:
        self.strategy.validate()

    def calc_is_empty(self, recur: Any) -> bool:
        return bool(recur(self.strategy))

    def do_draw(self, data: Any) -> Any:
        return self.strategy.do_draw(data)

    def __repr__(self) -> str:
        return self.name


def named(strategy: SearchStrategy[T], name: str) -> SearchStrategy[T]:
    """``strategy``, whose repr is ``name``."""
    return _Named(strategy, name)


def shown_as_call(function: Callable[P, SearchStrategy[T]]) -> Callable[P, SearchStrategy[T]]:
    """Decorate a public strategy function so that what it returns is shown as the call that
    made it (``actual_lrps(states=('RUNNING',))``), not as its nested strategies."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> SearchStrategy[T]:
        strategy = function(*args, **kwargs)
        if isinstance(strategy, _Named | _MessageStrategy):
            return strategy
        shown = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
        return _Named(strategy, f"{function.__name__}({', '.join(shown)})")

    return call


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def pretty_message(message: Message, printer: Any, cycle: bool) -> None:
    """Print a message as the constructor call that builds it (only the fields it sets), the
    way Hypothesis prints a failing example."""
    if cycle:
        printer.text(f"{type(message).__name__}(...)")
        return
    fields: dict[str, object] = {}
    for descriptor, value in message.ListFields():
        if _is_map(descriptor):
            fields[descriptor.name] = dict(value)
        elif _is_repeated(descriptor):
            fields[descriptor.name] = list(value)
        else:
            fields[descriptor.name] = value
    printer.repr_call(type(message).__name__, [], fields)


def register_pretty_printers(classes: Iterable[type[Message]]) -> None:
    """Make Hypothesis print messages of ``classes`` as constructor calls."""
    for cls in classes:
        pretty.for_type_by_name(cls.__module__, cls.__name__, pretty_message)


class Construct:
    """``cls(**fields)``, shown by the class name in Hypothesis's failure reports (so a shrunk
    example reads ``DesiredLRP({...})``)."""

    def __init__(self, cls: type[Message], field: str = "") -> None:
        self.cls = cls
        self.field = field

    def __call__(self, value: Any) -> Any:
        if self.field:
            return self.cls(**{self.field: value})
        return self.cls(**value)

    def __repr__(self) -> str:
        return f"{self.cls.__name__}.{self.field}" if self.field else self.cls.__name__


@shown_as_call
def guids(prefix: str = "", *, max_size: int = 12) -> SearchStrategy[str]:
    """Strings that match the guid pattern, starting with ``prefix`` (which must match it too,
    or be empty)."""
    return st.text(GUID_ALPHABET, min_size=0 if prefix else 1, max_size=max_size).map(
        lambda tail: prefix + tail
    )


def names(*, min_size: int = 1, max_size: int = 10) -> SearchStrategy[str]:
    """Short identifier-like ASCII strings (cell ids, users, paths parts, map keys)."""
    return st.text(
        string.ascii_lowercase + string.digits + "-", min_size=min_size, max_size=max_size
    )


def texts(*, min_size: int = 0, max_size: int = 16) -> SearchStrategy[str]:
    """Free text, any Unicode a protobuf string can carry (no surrogates)."""
    return st.text(min_size=min_size, max_size=max_size)


def nonnegative(maximum: int = _INT32_MAX) -> SearchStrategy[int]:
    return st.integers(min_value=0, max_value=maximum)


@shown_as_call
def root_fs_urls() -> SearchStrategy[str]:
    """Root filesystems Go's ``url.Parse`` reads with a scheme, as the rootfs rule requires:
    ``preloaded:<stack>`` and ``docker:///<image>`` style URLs."""
    stack = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10)
    return st.one_of(
        stack.map(lambda s: f"preloaded:{s}"),
        stack.map(lambda s: f"docker:///cloudfoundry/{s}"),
        st.tuples(stack, stack).map(lambda p: f"docker://registry.example.com/{p[0]}:{p[1]}"),
    )


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=12),
)
_JSON_VALUES: SearchStrategy[Any] = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def go_json(value: Any) -> bytes:
    """JSON as Go's ``json.Marshal`` writes it: compact, non-ASCII and ``<>&`` escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    for char, escape in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escape)  # these characters only occur inside JSON strings
    return text.encode("ascii")


@shown_as_call
def route_json() -> SearchStrategy[bytes]:
    """A route value already in the form the BBS stores (compact JSON, Go's escapes), so it
    reads back byte for byte."""
    return _JSON_VALUES.map(go_json)


def timestamps() -> SearchStrategy[int]:
    """Unix nanoseconds in this century (never 0: ``since`` and ``created_at`` are set)."""
    return st.integers(946_684_800 * 10**9, 4_102_444_800 * 10**9)
