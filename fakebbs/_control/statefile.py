"""State files: a fake's state (every namespace's, for ``fakebbs serve --state``) on disk.

A state file is what ``FakeBBS.snapshot()`` holds, per namespace, written so that a restarted
fake restores it with ``FakeBBS.restore``: the same rows, in the same order, byte for byte.
It is JSON with each row as the base64 of its protobuf encoding (exact, and fast to write)::

    {"fakebbs_state": 1,
     "namespaces": {"": {"desired_lrps": ["CgN3ZWIS..."], "actual_lrps": [...], "tasks": [...],
                         "domains": [["cf-apps", 1700000000000000000], ["other", null]],
                         "cells": [...]}}}

``fakebbs_state`` is the format's version: a file from a newer fakebbs is refused rather than
half understood. Domains keep their expiry (Unix nanoseconds), so a TTL goes on running across a
restart, as upstream keeps it in its database. A file is written to a temporary file beside it
and renamed over it, so a reader (or a kill -9) sees the old file or the new one, never half.
A file that cannot be read is refused with a ``StateFileError`` naming it and what is wrong, and
is never written over by the refusal.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from fakebbs import models
from fakebbs._control import json_input as json_input
from fakebbs._rules.store import ActualKey, Snapshot

__all__ = [
    "FORMAT_VERSION",
    "StateFileError",
    "decode_state",
    "encode_state",
    "read_state_file",
    "write_state_file",
]

FORMAT_VERSION = 1
"""The version of the state file format this fakebbs writes and reads."""

_MAGIC = "fakebbs_state"
_TABLES = ("desired_lrps", "actual_lrps", "tasks", "domains", "cells")

M = TypeVar("M", bound=Message)


class StateFileError(ValueError):
    """A state file that cannot be loaded: not one, damaged, or from a newer fakebbs."""


def encode_state(snapshots: Mapping[str, Snapshot]) -> bytes:
    """The state file holding ``snapshots`` (namespace name to its state)."""
    return json.dumps(
        {
            _MAGIC: FORMAT_VERSION,
            "namespaces": {name: _encode(snapshot) for name, snapshot in snapshots.items()},
        },
        separators=(",", ":"),
    ).encode()


def _encode(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "desired_lrps": [_row(m) for m in snapshot.desired_lrps.values()],
        "actual_lrps": [_row(m) for m in snapshot.actual_lrps.values()],
        "tasks": [_row(m) for m in snapshot.tasks.values()],
        "domains": [[name, expires] for name, expires in snapshot.domains.items()],
        "cells": [_row(m) for m in snapshot.cells.values()],
    }


def _row(message: Message) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


def decode_state(data: bytes, source: str) -> dict[str, Snapshot]:
    """The snapshots a state file holds, by namespace; a StateFileError prefixed by
    ``source`` for anything that is not a whole state file of this format."""
    try:
        document = json_input.loads(data)
    except json_input.JSONInputError as exc:
        raise StateFileError(f"{source}: not a fakebbs state file ({exc})") from None
    if not isinstance(document, dict) or _MAGIC not in document:
        raise StateFileError(f"{source}: not a fakebbs state file (no {_MAGIC!r} version)")
    version = document[_MAGIC]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StateFileError(f"{source}: not a fakebbs state file (version {version!r})")
    if version > FORMAT_VERSION:
        raise StateFileError(
            f"{source}: written by a newer fakebbs (state format {version}; this one reads "
            f"format {FORMAT_VERSION}): upgrade fakebbs to load it"
        )
    namespaces = document.get("namespaces")
    if not isinstance(namespaces, dict):
        raise StateFileError(f"{source}: damaged: 'namespaces' is not an object")
    return {
        name: _decode(tables, f"{source}: namespace {name!r}")
        for name, tables in namespaces.items()
    }


def _decode(tables: Any, where: str) -> Snapshot:
    if not isinstance(tables, dict) or set(tables) != set(_TABLES):
        raise StateFileError(f"{where}: damaged: expected the tables {', '.join(_TABLES)}")
    desired = _rows(tables, "desired_lrps", models.DesiredLRP, where)
    actual = _rows(tables, "actual_lrps", models.ActualLRP, where)
    tasks = _rows(tables, "tasks", models.Task, where)
    cells = _rows(tables, "cells", models.CellPresence, where)
    domains: dict[str, int | None] = {}
    for entry in _list(tables, "domains", where):
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not (entry[1] is None or type(entry[1]) is int)
        ):
            raise StateFileError(f"{where}: damaged: a domain is not [name, expiry or null]")
        domains[entry[0]] = entry[1]
    return Snapshot(
        desired_lrps={lrp.process_guid: lrp for lrp in desired},
        actual_lrps={ActualKey.of(lrp): lrp for lrp in actual},
        tasks={task.task_guid: task for task in tasks},
        domains=domains,
        cells={cell.cell_id: cell for cell in cells},
    )


def _list(tables: dict[str, Any], table: str, where: str) -> list[Any]:
    items = tables[table]
    if not isinstance(items, list):
        raise StateFileError(f"{where}: damaged: {table} is not a list")
    return items


def _rows(tables: dict[str, Any], table: str, message_type: type[M], where: str) -> list[M]:
    rows = []
    for position, text in enumerate(_list(tables, table, where)):
        try:
            if not isinstance(text, str):
                raise TypeError
            rows.append(message_type.FromString(base64.b64decode(text, validate=True)))
        except (TypeError, ValueError, binascii.Error, DecodeError):
            raise StateFileError(
                f"{where}: damaged: {table}[{position}] is not a stored row"
            ) from None
    return rows


def read_state_file(path: str | os.PathLike[str]) -> dict[str, Snapshot]:
    """The snapshots in the state file at ``path``; a StateFileError when it cannot be read
    or is not one (FileNotFoundError, an OSError, when it does not exist)."""
    source = f"state file {os.fspath(path)}"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StateFileError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    return decode_state(data, source)


def write_state_file(path: str | os.PathLike[str], snapshots: Mapping[str, Snapshot]) -> int:
    """Write ``snapshots`` to ``path`` atomically (a temporary file beside it, synced, then
    renamed over it); returns the bytes written."""
    data = encode_state(snapshots)
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return len(data)
