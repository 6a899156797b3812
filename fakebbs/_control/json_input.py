"""JSON from outside (admin bodies, seed files, ``where=`` queries), parsed with a bound on
nesting.

Python's parser recurses once per level and fails with a ``RecursionError`` around a thousand
levels; protobuf's JSON parser stops at 100. ``loads`` refuses anything deeper than
``MAX_JSON_DEPTH`` with a ``JSONInputError`` (a ValueError) that says so, whichever of the two
would have broken first, so a caller answers it as bad input (a 400, a one-line error).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JSONInputError", "loads"]

MAX_JSON_DEPTH = 100
"""The deepest nesting of arrays and objects accepted (protobuf's JSON parser's own limit)."""


class JSONInputError(ValueError):
    """Text that is not JSON, or JSON nested deeper than ``MAX_JSON_DEPTH``."""


def loads(text: str | bytes) -> Any:
    """The decoded JSON value of ``text``; a JSONInputError when it does not parse (with the
    line and column) or nests too deeply."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONInputError(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError as exc:
        raise JSONInputError(f"not JSON: {exc}") from None
    except RecursionError:
        raise JSONInputError(_too_deep()) from None
    check_depth(value)
    return value


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """A JSONInputError if ``value`` (decoded JSON) nests arrays and objects deeper than
    ``limit``; iterative, so any depth is measured without recursing."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        if depth > limit:
            raise JSONInputError(_too_deep(limit))
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _too_deep(limit: int = MAX_JSON_DEPTH) -> str:
    return f"JSON nested deeper than {limit} levels"
