"""What every validation module shares: upstream's limits and the item helpers."""

from __future__ import annotations

import re
from typing import Any

MAXIMUM_ANNOTATION_LENGTH = 10 * 1024
"""``models/models.go: maximumAnnotationLength`` (bytes)."""
MAXIMUM_ROUTE_LENGTH = 128 * 1024
"""``models/models.go: maximumRouteLength`` (total bytes of all route values)."""
VOLUME_MOUNTED_FILES_MAX_SIZE = 1 * 1024 * 1024
"""``models/desired_lrp.go: volumeMountedFilesMaxAllowedSize`` (total bytes of file contents)."""

ACTION_FIELDS: tuple[str, ...] = (
    "download_action",
    "upload_action",
    "run_action",
    "timeout_action",
    "emit_progress_action",
    "try_action",
    "parallel_action",
    "serial_action",
    "codependent_action",
)
"""The fields of ``Action`` in the order ``Action.GetValue()`` tries them (field-number order)."""

ERR_INVALID_ACTION_TYPE = "invalid action type"
"""``models/actions.go: ErrInvalidActionType``."""

_GUID_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
"""``processGuidPattern`` / ``taskGuidPattern``: ``^[a-zA-Z0-9_-]+$`` (Go's ``$``: end of text)."""


def invalid_field(name: str) -> str:
    """``ErrInvalidField{name}.Error()``."""
    return f"Invalid field: {name}"


def utf8_len(text: str) -> int:
    """``len()`` of a Go string: its byte length."""
    return len(text.encode("utf-8", "surrogatepass"))


def guid_ok(guid: str) -> bool:
    return _GUID_PATTERN.fullmatch(guid) is not None


def nonempty(message: Any, *names: str) -> list[str]:
    """An item for each of the ``names`` fields of ``message`` that is empty."""
    return [invalid_field(name) for name in names if getattr(message, name) == ""]
