"""The BBS error catalogue: one exception class per ``Error.Type`` of ``models/error.proto``.

The fake raises these from its state rules, the app turns them into the ``error`` field (field 1)
of the route's response message, and the client raises them again from a decoded response. The
canonical messages are upstream's ``models/errors.go`` texts, so a caller that matches on
``str(err)`` sees what the real BBS sends.

``BBSClient`` also raises some of these classes when the request itself failed (upstream
``client.do``'s errors: a router error, a non-protobuf status, a body that could not be read or
decoded, a timeout), next to ``OSError`` and ``http.client.HTTPException`` from the socket.
``is_retryable(exc)`` tells those request failures, which are worth retrying, from a BBS's
answer.
"""

from __future__ import annotations

import functools
import http.client
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from fakebbs import models

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
    "from_type",
    "from_wire",
    "is_retryable",
]


class BBSError(Exception):
    """An error as the BBS reports it: a numeric ``Error.Type`` and a message.

    ``type`` is the wire value; ``message`` the text (the Go client's ``err.Error()``).
    """

    type: ClassVar[int] = 0
    default_message: ClassVar[str] = "the request failed for an unknown reason"

    keep_container: bool = False
    """Evacuation routes answer ``keep_container`` next to their error; the rules and the
    client set it here."""

    retryable: bool = False
    """True when ``BBSClient`` raised it because the request failed (no BBS answer to read:
    see ``is_retryable``), False for an error the BBS answered in a response."""

    def __init__(self, message: str | None = None, *, keep_container: bool = False) -> None:
        self.message = self.default_message if message is None else message
        self.keep_container = keep_container
        super().__init__(self.message)

    def to_wire(self) -> models.Error:
        """The protobuf ``Error`` the BBS puts in field 1 of a response for this error."""
        from fakebbs import models

        wire = models.Error(message=self.message)
        wire.type = self.type  # type: ignore[assignment]  # any number: upstream's enum is open
        return wire

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


class Timeout(BBSError, TimeoutError):
    """Also a ``TimeoutError`` (so an ``OSError``): ``BBSClient`` raises it when a socket
    operation timed out."""

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


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a ``BBSClient`` call, means the request failed in transport
    and is worth retrying: exactly what the client's ``retries`` retry, as the Go client's
    ``doRequest`` does. True for a socket error (``OSError``: refused, reset or closed
    connections, TLS failures, timeouts) or ``http.client.HTTPException`` (``RemoteDisconnected``,
    ``IncompleteRead``), and for the ``BBSError`` classes the client raises for a request failure
    (``RouterError``, ``InvalidResponse`` for a plain status or an unreadable body,
    ``InvalidProtobufMessage`` for an undecodable one, ``Timeout``). False for every error the
    BBS answered (``ResourceNotFound``, ``InvalidRequest``, ...: retrying gets the same answer)
    and for anything else."""
    if isinstance(exc, BBSError):
        return exc.retryable
    return isinstance(exc, (OSError, http.client.HTTPException))


def error_class(type_: int) -> type[BBSError]:
    """The exception class for a wire ``Error.Type``; unknown numbers map to ``BBSError``."""
    return _CLASSES.get(type_, BBSError)


def from_type(type_: int, message: str | None = None) -> BBSError:
    """An error of any wire type, also one today's catalogue lacks (old clients know types
    that were removed upstream): ``from_type(12, "...")`` is a ``BBSError12``."""
    cls = error_class(type_)
    if cls.type != type_:
        cls = _unknown_error_class(type_)
    return cls(message)


def from_wire(error: models.Error) -> BBSError:
    """The exception for a decoded protobuf ``Error`` (upstream ``Error.ToError``)."""
    return from_type(int(error.type), str(error.message))


@functools.cache
def _unknown_error_class(type_: int) -> type[BBSError]:
    return type(f"BBSError{type_}", (BBSError,), {"type": type_, "__module__": __name__})
