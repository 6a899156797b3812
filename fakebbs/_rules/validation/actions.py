"""Actions (``models/actions.go``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakebbs import models
from fakebbs._rules.validation.basics import ACTION_FIELDS, invalid_field

_CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256")


def first_action_field(action: models.Action) -> str | None:
    """``Action.GetValue()``: the first set field in field-number order, or None if none is."""
    for name in ACTION_FIELDS:
        if action.HasField(name):
            return name
    return None


def validate_action(action: models.Action) -> list[str]:
    """``Action.Validate()``: the items of the first set inner action.

    An action with no field set gives "Invalid field: inner-action" (upstream's text at the
    top level; nested inside a wrapper upstream panics, and this text stands in for that).
    """
    kind = first_action_field(action)
    if kind is None:
        return [invalid_field("inner-action")]
    return _INNER_ACTION_VALIDATORS[kind](getattr(action, kind))


def checksum_items(algorithm: str, value: str) -> list[str]:
    """The checksum pairing rules shared by ``DownloadAction`` and ``CachedDependency``."""
    items: list[str] = []
    if value != "" and algorithm == "":
        items.append(invalid_field("checksum algorithm"))
    if value == "" and algorithm != "":
        items.append(invalid_field("checksum value"))
    if value != "" and algorithm != "" and algorithm.lower() not in _CHECKSUM_ALGORITHMS:
        items.append(invalid_field("invalid algorithm"))
    return items


def _download_action(a: models.DownloadAction) -> list[str]:
    """``DownloadAction.Validate()``: from, to, user, then the checksum pairing."""
    items: list[str] = []
    if getattr(a, "from") == "":
        items.append(invalid_field("from"))
    if a.to == "":
        items.append(invalid_field("to"))
    if a.user == "":
        items.append(invalid_field("user"))
    return items + checksum_items(a.checksum_algorithm, a.checksum_value)


def _upload_action(a: models.UploadAction) -> list[str]:
    """``UploadAction.Validate()``: to, from, user (note: ``to`` first)."""
    items: list[str] = []
    if a.to == "":
        items.append(invalid_field("to"))
    if getattr(a, "from") == "":
        items.append(invalid_field("from"))
    if a.user == "":
        items.append(invalid_field("user"))
    return items


def _run_action(a: models.RunAction) -> list[str]:
    """``RunAction.Validate()``: path and user."""
    items: list[str] = []
    if a.path == "":
        items.append(invalid_field("path"))
    if a.user == "":
        items.append(invalid_field("user"))
    return items


def _wrapped_inner(a: Any) -> list[str]:
    """The inner-action part of ``Timeout/Try/EmitProgressAction.Validate()``."""
    if not a.HasField("action"):
        return [invalid_field("action")]
    return validate_action(a.action)


def _timeout_action(a: models.TimeoutAction) -> list[str]:
    """``TimeoutAction.Validate()``: inner action, then ``timeout_ms > 0``."""
    items = _wrapped_inner(a)
    if a.timeout_ms <= 0:
        items.append(invalid_field("timeout_ms"))
    return items


def _multi_action(a: Any) -> list[str]:
    """``Parallel/Serial/CodependentAction.Validate()``: non-empty ``actions``, each valid.

    (Upstream's "action at index N" for a nil element cannot arise from the wire.)
    """
    if len(a.actions) == 0:
        return [invalid_field("actions")]
    items: list[str] = []
    for sub in a.actions:
        items += validate_action(sub)
    return items


_INNER_ACTION_VALIDATORS: dict[str, Callable[[Any], list[str]]] = {
    "download_action": _download_action,
    "upload_action": _upload_action,
    "run_action": _run_action,
    "timeout_action": _timeout_action,
    "emit_progress_action": _wrapped_inner,
    "try_action": _wrapped_inner,
    "parallel_action": _multi_action,
    "serial_action": _multi_action,
    "codependent_action": _multi_action,
}
