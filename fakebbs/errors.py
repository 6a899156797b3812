"""The BBS error catalogue: one exception class per ``Error.Type`` of ``models/error.proto``.

The fake raises these from its state rules, the app turns them into the ``error`` field (field 1)
of the route's response message, and the client raises them again from a decoded response. The
canonical messages are upstream's ``models/errors.go`` texts, so a caller that matches on
``str(err)`` sees what the real BBS sends.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BBSError",
    "UnknownError",
    "InvalidRecord",
    "InvalidRequest",
    "InvalidResponse",
    "InvalidProtobufMessage",
    "InvalidJSON",
    "FailedToOpenEnvelope",
    "InvalidStateTransition",
    "ResourceConflict",
    "ResourceExists",
    "ResourceNotFound",
    "RouterError",
    "ActualLRPCannotBeClaimed",
    "ActualLRPCannotBeStarted",
    "ActualLRPCannotBeCrashed",
    "ActualLRPCannotBeFailed",
    "ActualLRPCannotBeRemoved",
    "ActualLRPCannotBeUnclaimed",
    "RunningOnDifferentCell",
    "GUIDGeneration",
    "Deserialize",
    "Deadlock",
    "Unrecoverable",
    "LockCollision",
    "Timeout",
    "error_class",
]


class BBSError(Exception):
    """An error as the BBS reports it: a numeric ``Error.Type`` and a message.

    ``type`` is the wire value; ``message`` the text (the Go client's ``err.Error()``).
    """

    type: ClassVar[int] = 0
    default_message: ClassVar[str] = "the request failed for an unknown reason"

    def __init__(self, message: str | None = None) -> None:
        self.message = self.default_message if message is None else message
        super().__init__(self.message)

    @property
    def type_name(self) -> str:
        return _NAMES.get(self.type, str(self.type))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BBSError):
            return NotImplemented
        return (self.type, self.message) == (other.type, other.message)

    def __hash__(self) -> int:
        return hash((self.type, self.message))


class UnknownError(BBSError):
    type = 0


class InvalidRecord(BBSError):
    type = 3
    default_message = "the requested resource is invalid"


class InvalidRequest(BBSError):
    type = 4
    default_message = "the request received is invalid"


class InvalidResponse(BBSError):
    type = 5
    default_message = "the response received was invalid"


class InvalidProtobufMessage(BBSError):
    type = 6
    default_message = "the protobuf message is invalid"


class InvalidJSON(BBSError):
    type = 7
    default_message = "the json received is invalid"


class FailedToOpenEnvelope(BBSError):
    type = 8
    default_message = "could not open envelope"


class InvalidStateTransition(BBSError):
    type = 9
    default_message = "invalid state transition"

    @classmethod
    def between(cls, current: str, target: str) -> InvalidStateTransition:
        """Upstream's ``NewTaskTransitionError``: "Cannot transition from <from> to <to>"."""
        return cls(f"Cannot transition from {current} to {target}")


class ResourceConflict(BBSError):
    type = 11
    default_message = "the requested resource is in a conflicting state"


class ResourceExists(BBSError):
    type = 12
    default_message = "the requested resource already exists"


class ResourceNotFound(BBSError):
    type = 13
    default_message = "the requested resource could not be found"


class RouterError(BBSError):
    type = 14
    default_message = "router error"


class ActualLRPCannotBeClaimed(BBSError):
    type = 15
    default_message = "cannot claim actual LRP"


class ActualLRPCannotBeStarted(BBSError):
    type = 16
    default_message = "cannot start actual LRP"


class ActualLRPCannotBeCrashed(BBSError):
    type = 17
    default_message = "cannot crash actual LRP"


class ActualLRPCannotBeFailed(BBSError):
    type = 18
    default_message = "cannot fail actual LRP"


class ActualLRPCannotBeRemoved(BBSError):
    type = 19
    default_message = "cannot remove actual LRP"


class ActualLRPCannotBeUnclaimed(BBSError):
    type = 21
    default_message = "cannot unclaim actual LRP"


class RunningOnDifferentCell(BBSError):
    type = 24
    default_message = "running on different cell"

    @classmethod
    def cells(cls, actual: str, requested: str) -> RunningOnDifferentCell:
        return cls(f"Running on cell {actual} not {requested}")


class GUIDGeneration(BBSError):
    type = 26
    default_message = "cannot generate random guid"


class Deserialize(BBSError):
    type = 27
    default_message = "could not deserialize record"


class Deadlock(BBSError):
    type = 28
    default_message = "the request failed due to deadlock"


class Unrecoverable(BBSError):
    type = 29
    default_message = "the request failed with an unrecoverable error"


class LockCollision(BBSError):
    type = 30
    default_message = "lock already exists"


class Timeout(BBSError):
    type = 31
    default_message = "timeout"


_CLASSES: dict[int, type[BBSError]] = {
    cls.type: cls
    for cls in (
        UnknownError,
        InvalidRecord,
        InvalidRequest,
        InvalidResponse,
        InvalidProtobufMessage,
        InvalidJSON,
        FailedToOpenEnvelope,
        InvalidStateTransition,
        ResourceConflict,
        ResourceExists,
        ResourceNotFound,
        RouterError,
        ActualLRPCannotBeClaimed,
        ActualLRPCannotBeStarted,
        ActualLRPCannotBeCrashed,
        ActualLRPCannotBeFailed,
        ActualLRPCannotBeRemoved,
        ActualLRPCannotBeUnclaimed,
        RunningOnDifferentCell,
        GUIDGeneration,
        Deserialize,
        Deadlock,
        Unrecoverable,
        LockCollision,
        Timeout,
    )
}
_NAMES: dict[int, str] = {t: cls.__name__ for t, cls in _CLASSES.items()}


def error_class(type_: int) -> type[BBSError]:
    """The exception class for a wire ``Error.Type``; unknown numbers map to ``BBSError``."""
    return _CLASSES.get(type_, BBSError)
