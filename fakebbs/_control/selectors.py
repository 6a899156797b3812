"""Which calls a fault, a hold or a journal query is about: a route selector and ``where``.

A selector is a route name of the table (``DesireDesiredLRP``), all revisions of one operation
(``DesireDesiredLRP*``: the name and its ``_rN`` revisions), a list of those, or ``"*"`` (every
route). ``where`` is a mapping of dotted paths into the decoded request message to expected
values, or a callable taking the request message. Both are checked when they are given, so a
typo is an immediate error rather than a rule that silently never matches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from fakebbs import models
from fakebbs.routes import ROUTES, ROUTES_BY_NAME, Route

__all__ = [
    "Selector",
    "UnknownRoute",
    "Where",
    "Matcher",
    "resolve_routes",
    "resolve_where",
    "resolve_names",
    "resolve_json_where",
    "lookup",
]

Selector = str | Iterable[str]
Where = Mapping[str, Any] | Callable[[Message], bool] | None

_REVISION = re.compile(r"_r\d+$")
_MISSING = object()


def resolve_routes(selector: Selector) -> frozenset[str]:
    """The route names a selector stands for; an unknown name is a ValueError naming close
    ones."""
    names = [selector] if isinstance(selector, str) else list(selector)
    if not names:
        raise ValueError("a route selector needs at least one route name")
    chosen: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"a route selector is a route name or a list of them, got {name!r}")
        if name == "*":
            chosen.update(ROUTES_BY_NAME)
        elif name.endswith("*"):
            stem = name[:-1]
            family = {r.name for r in ROUTES if _REVISION.sub("", r.name) == stem}
            if not family:
                raise _unknown(name, stem)
            chosen.update(family)
        elif name in ROUTES_BY_NAME:
            chosen.add(name)
        else:
            raise _unknown(name, name)
    return frozenset(chosen)


class UnknownRoute(ValueError):
    """A selector naming no route: ``name``, and the ``close`` names it may have meant. Its
    text points Python users at ``fakebbs.routes.ROUTES``; ``saying(where)`` points elsewhere
    (the admin API points curl users at its route list)."""

    def __init__(self, name: str, close: list[str]) -> None:
        self.name = name
        self.close = close
        super().__init__(self.saying("route names are in fakebbs.routes.ROUTES"))

    def saying(self, where: str) -> str:
        hint = f"; did you mean {', '.join(self.close)}?" if self.close else ""
        return f"no BBS route is named {self.name!r}{hint} ({where})"


def _unknown(name: str, stem: str) -> UnknownRoute:
    return UnknownRoute(
        name, difflib.get_close_matches(stem, list(ROUTES_BY_NAME), n=4, cutoff=0.6)
    )


@dataclass(frozen=True)
class Matcher:
    """A resolved selector and ``where``: ``matches(route, request)``."""

    routes: frozenset[str]
    where: Mapping[str, Any] | Callable[[Message], bool] | None = None
    description: str = ""

    def matches(self, route: Route | None, request: Message | None) -> bool:
        if route is None or route.name not in self.routes:
            return False
        return self.where_matches(request)

    def where_matches(self, request: Any) -> bool:
        if self.where is None:
            return True
        if request is None:
            return False
        if callable(self.where):
            return bool(self.where(request))
        return not differences(self.where, request)


def resolve_where(routes: Collection[str], where: Where) -> Where:
    """Check ``where`` against the request messages of ``routes``: every path must exist in at
    least one of them (a ValueError names the bad path and the fields there are)."""
    if where is None or callable(where):
        return where
    if not isinstance(where, Mapping):
        raise TypeError(
            f"where is a mapping of dotted paths to values or a callable, not {where!r}"
        )
    descriptors = [
        getattr(models, r.request).DESCRIPTOR
        for r in ROUTES
        if r.name in routes and r.request is not None
    ]
    if not descriptors:
        raise ValueError("where needs routes with a request message; these routes take no body")
    for path in where:
        problems = [_path_problem(d, path) for d in descriptors]
        if all(problems):
            raise ValueError(problems[0])
    return dict(where)


def _path_problem(descriptor: Descriptor, path: str) -> str | None:
    current: Descriptor | None = descriptor
    for part in path.split("."):
        if current is None:
            return f"where path {path!r}: {part!r} is inside a field that is not a message"
        field = current.fields_by_name.get(part)
        if field is None:
            names = ", ".join(sorted(current.fields_by_name))
            return f"where path {path!r}: {current.name} has no field {part!r} (it has {names})"
        current = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    return None


def lookup(message: Any, path: str) -> Any:
    """The value at a dotted path: a scalar (enums as their names), a message, or a list when
    the path crosses a repeated field (one value per element). ``_MISSING`` past an unset
    field of a message that has presence."""
    values: list[Any] = [message]
    repeated = False
    for part in path.split("."):
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, (Mapping, list)):
                # A decoded JSON body (the calls the fake makes): lists are crossed like
                # repeated fields, objects looked into by key.
                found, crossed = _json_step(value, part)
                repeated = repeated or crossed
                nxt.extend(found)
                continue
            if not isinstance(value, Message):
                continue
            field = value.DESCRIPTOR.fields_by_name.get(part)
            if field is None:
                continue
            raw = getattr(value, part)
            if _is_repeated(field) and not _is_map(field):
                repeated = True
                nxt.extend(_plain(field, item) for item in raw)
            else:
                nxt.append(_plain(field, raw))
        values = nxt
    if repeated:
        return values
    return values[0] if values else _MISSING


def _json_step(value: Any, part: str) -> tuple[list[Any], bool]:
    """One path step into decoded JSON: (the values found, whether a list was crossed)."""
    if isinstance(value, list):
        found: list[Any] = []
        for item in value:
            inner, _ = _json_step(item, part)
            found.extend(inner)
        return found, True
    if isinstance(value, Mapping) and part in value:
        item = value[part]
        if isinstance(item, list) and not any(isinstance(i, (Mapping, list)) for i in item):
            return list(item), True
        return [item], False
    return [], False


def resolve_names(selector: Selector, names: Collection[str], what: str) -> frozenset[str]:
    """The names a selector stands for among ``names`` (``"*"``: all of them); an unknown
    name is a ValueError naming close ones. ``what`` says what the names are, for errors."""
    chosen = [selector] if isinstance(selector, str) else list(selector)
    if not chosen:
        raise ValueError(f"a selector needs at least one {what} name")
    out: set[str] = set()
    for name in chosen:
        if not isinstance(name, str):
            raise TypeError(f"a selector is a {what} name or a list of them, got {name!r}")
        if name == "*":
            out.update(names)
        elif name in names:
            out.add(name)
        else:
            close = difflib.get_close_matches(name, list(names), n=4, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"no {what} is named {name!r}{hint} (they are {', '.join(names)})")
    return frozenset(out)


def resolve_json_where(
    names: Collection[str], fields: Mapping[str, Collection[str]], where: Where
) -> Where:
    """Check a ``where`` over decoded JSON bodies: each path's first name must be a field of
    at least one of the selected calls' bodies (``fields``)."""
    if where is None or callable(where):
        return where
    if not isinstance(where, Mapping):
        raise TypeError(
            f"where is a mapping of dotted paths to values or a callable, not {where!r}"
        )
    known = sorted({f for name in names for f in fields.get(name, ())})
    for path in where:
        if path.split(".")[0] not in known:
            raise ValueError(
                f"where path {path!r}: these calls have no field {path.split('.')[0]!r} "
                f"(they have {', '.join(known)})"
            )
    return dict(where)


def _is_repeated(field: Any) -> bool:
    # protobuf 7 drops ``label`` for ``is_repeated``; 4.25 has only ``label``.
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)


def _is_map(field: Any) -> bool:
    entry = field.message_type
    return entry is not None and bool(entry.GetOptions().map_entry)


class EnumName(str):
    """An enum value read from a request: its name, equal to its name or its number."""

    number: int

    def __new__(cls, name: str, number: int) -> EnumName:
        value = super().__new__(cls, name)
        value.number = number
        return value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int) and not isinstance(other, bool):
            return self.number == other
        return str.__eq__(self, other)

    def __hash__(self) -> int:
        return str.__hash__(self)


def _plain(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        enum_value = field.enum_type.values_by_number.get(value)
        return EnumName(enum_value.name, value) if enum_value is not None else value
    if _is_map(field):
        return dict(value)
    return value


def differences(where: Mapping[str, Any], request: Any) -> list[tuple[str, Any, Any]]:
    """(path, expected, got) for each path of ``where`` the request does not match. A path
    that crosses a repeated field matches when any element equals the expected value, or when
    the whole list equals an expected list."""
    out: list[tuple[str, Any, Any]] = []
    for path, expected in where.items():
        got = lookup(request, path)
        if not _equal(expected, got):
            out.append((path, expected, None if got is _MISSING else got))
    return out


def _equal(expected: Any, got: Any) -> bool:
    if got is _MISSING:
        return False
    if isinstance(got, list) and not isinstance(expected, list):
        return any(_equal(expected, item) for item in got)
    if isinstance(expected, Message) or isinstance(got, Message):
        return bool(expected == got)
    if isinstance(got, list):
        return len(got) == len(expected) and all(map(_equal, expected, got))
    return bool(expected == got)
