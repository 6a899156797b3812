"""Which BBS errors each route can answer, read from the fake's own rules: the route's handler
and everything it calls (``state.<rule>``, ``self.<rule>``, module functions), searched for the
error classes of ``fakebbs.errors`` they name. Validation failures are left out: they answer
the request, not the state, and a client sending valid requests never sees them (a rule that
answers InvalidRequest for a state, as RejectTask does, names it itself). Reading the rules,
rather than keeping a list by hand, keeps fault schedules in step with what they really do."""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from fakebbs import errors
from fakebbs.errors import BBSError
from fakebbs.routes import ROUTES_BY_NAME

__all__ = ["route_errors"]


def _functions_named(node: ast.AST, scope: Callable[..., Any]) -> Iterator[object]:
    """The objects the names and attributes in ``node`` refer to, resolved in ``scope``'s
    globals and closure: ``state.x`` on the BBS state class, ``self.x`` on the class ``scope``
    is a method of, and chains through declared attributes (``self.store.operation``,
    ``self.lifecycle.retire_actual_lrp``) on the classes their annotations name."""
    from fakebbs._rules.state import State

    # The function's whole global namespace, not ``inspect.getclosurevars``: that reads the
    # names of the function's own code object, which on Python 3.11 leaves out the names used
    # inside a comprehension (3.12 inlines comprehensions), so the answer would differ by version.
    names = {**scope.__globals__, **inspect.getclosurevars(scope).nonlocals}
    owners: dict[str, type] = {"state": State}
    owner_class = names.get(scope.__qualname__.rpartition(".")[0])
    if isinstance(owner_class, type):
        owners["self"] = owner_class
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in names:
            yield names[child.id]
        elif isinstance(child, ast.Attribute):
            chain = _attribute_chain(child)
            if chain is None:
                continue
            owner, path = chain
            if owner in owners:
                yield _resolve(owners[owner], path)
            elif len(path) > 1:
                continue
            elif owner in names and isinstance(names[owner], types.ModuleType):
                yield getattr(names[owner], child.attr, None)
            elif owner in names and isinstance(names[owner], type):
                yield names[owner]


def _attribute_chain(node: ast.Attribute) -> tuple[str, list[str]] | None:
    """``a.b.c`` as ("a", ["b", "c"]); None when it does not start at a name."""
    path: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        path.insert(0, current.attr)
        current = current.value
    return (current.id, path) if isinstance(current, ast.Name) else None


def _resolve(cls: type, path: list[str]) -> object:
    """The class attribute ``path`` leads to from ``cls``, following each step's annotation
    (``store: Store``) to the next class; None where it leads nowhere."""
    for step in path[:-1]:
        try:
            hints = typing.get_type_hints(cls)
        except (NameError, TypeError):
            return None
        following = hints.get(step)
        if not isinstance(following, type):
            return None
        cls = following
    return inspect.getattr_static(cls, path[-1], None)


def _reachable_errors(start: Callable[..., Any]) -> set[type[BBSError]]:
    found: set[type[BBSError]] = set()
    seen: set[Any] = set()
    todo: list[Any] = [start]
    while todo:
        function = todo.pop()
        if isinstance(function, (staticmethod, classmethod)):
            function = function.__func__
        if isinstance(function, property) and function.fget is not None:
            function = function.fget
        if not inspect.isfunction(function) or function in seen:
            continue
        if not function.__module__.startswith("fakebbs.") or function in _request_checks():
            continue
        seen.add(function)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):
            continue
        for target in _functions_named(tree, function):
            if isinstance(target, type) and issubclass(target, BBSError):
                found.add(target)
            else:
                todo.append(target)
    return found


@functools.cache
def _request_checks() -> frozenset[Callable[..., Any]]:
    """Rules that check the request itself rather than the state (route values that are not
    JSON): a valid request never fails them, so their InvalidRequest is no fault to schedule."""
    from fakebbs._rules.views import compact_routes

    return frozenset({compact_routes})


@functools.cache
def route_errors(route_name: str) -> tuple[type[BBSError], ...]:
    """The BBS errors ``route_name`` can answer, by type number (empty for a route without an
    ``error`` field, such as Ping, and for event streams)."""
    from fakebbs import models
    from fakebbs._http.handlers import HANDLERS

    route = ROUTES_BY_NAME[route_name]
    if route.response is None:
        return ()
    if "error" not in getattr(models, route.response).DESCRIPTOR.fields_by_name:
        return ()
    handler = HANDLERS.get(route_name)
    found = _reachable_errors(handler.run) if handler is not None else set()
    if handler is not None and handler.prepare is not None:
        found |= _reachable_errors(handler.prepare)
    # Client-side errors are never a BBS answer; BBSError itself is only a type annotation.
    found -= {BBSError, errors.InvalidResponse, errors.InvalidProtobufMessage, errors.RouterError}
    return tuple(sorted(found, key=lambda cls: cls.type))
