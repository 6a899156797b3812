"""Fields given as keywords: set a protobuf message's fields from Python values by name, as
the seeding calls take them (``seed.cell("c", zone="z1", capacity={"memory_mb": 1024})``),
with an unknown name answered by the close names it may have meant."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from fakebbs import models

__all__ = ["Fields", "set_fields"]

Fields = Mapping[str, object]


def set_fields(
    message: Message, fields: Fields, what: str, *, also: type[Message] | None = None
) -> None:
    """Set each of ``fields`` on ``message``; an unknown name is a TypeError listing close
    names (of ``also`` too: fields the caller takes from another model)."""
    by_name = message.DESCRIPTOR.fields_by_name
    for name, value in fields.items():
        field = by_name.get(name)
        if field is None:
            known = list(by_name)
            if also is not None:
                known += list(also.DESCRIPTOR.fields_by_name)
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise TypeError(f"{what} has no field {name!r}{hint}")
        try:
            _set_field(message, field, value)
        except (TypeError, ValueError, json_format.ParseError) as error:
            raise TypeError(f"{what}.{name}: {error}") from None


def _set_field(message: Message, field: Any, value: object) -> None:
    name = field.name
    target = getattr(message, name)
    if _is_map(field):
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping, got {type(value).__name__}")
        target.clear()
        entry = field.message_type.fields_by_name["value"]
        for key, item in value.items():
            if entry.message_type is not None:
                _fill(target[key], item)
            else:
                target[key] = _scalar(entry, item)
    elif _is_repeated(field):
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        del target[:]
        for item in value:
            if field.message_type is not None:
                _fill(target.add(), item)
            else:
                target.append(_scalar(field, item))
    elif field.message_type is not None:
        message.ClearField(name)
        _fill(getattr(message, name), value)
    else:
        setattr(message, name, _scalar(field, value))


def _fill(target: Message, value: object) -> None:
    """A message field from a message of its type or a dict in its JSON form. Routes may
    also be given as a mapping of router name to its JSON (bytes, text, or a value to
    encode), as they are on the wire."""
    if isinstance(target, models.ProtoRoutes) and isinstance(value, Mapping):
        for name, route in value.items():
            if not isinstance(route, bytes | str):
                route = json.dumps(route)
            target.routes[name] = route.encode() if isinstance(route, str) else route
    elif isinstance(value, Message):
        target.CopyFrom(value)
    elif isinstance(value, Mapping):
        json_format.ParseDict(dict(value), target)
    else:
        raise TypeError(f"expected a {target.DESCRIPTOR.name} or a dict, got {value!r}")
    target.SetInParent()


def _scalar(field: Any, value: object) -> object:
    """Enum values may be given by name."""
    if field.enum_type is not None and isinstance(value, str):
        number = field.enum_type.values_by_name.get(value)
        if number is None:
            names = ", ".join(field.enum_type.values_by_name)
            raise ValueError(f"{value!r} is not one of {names}")
        return number.number
    return value


def _is_map(field: Any) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_repeated(field: Any) -> bool:
    # protobuf 7 has ``is_repeated`` instead of ``label``; 4.25 has only ``label``.
    if hasattr(field, "is_repeated"):
        return bool(field.is_repeated)
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)
