from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Error(_message.Message):
    __slots__ = ("type", "message")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UnknownError: _ClassVar[Error.Type]
        InvalidRecord: _ClassVar[Error.Type]
        InvalidRequest: _ClassVar[Error.Type]
        InvalidResponse: _ClassVar[Error.Type]
        InvalidProtobufMessage: _ClassVar[Error.Type]
        InvalidJSON: _ClassVar[Error.Type]
        FailedToOpenEnvelope: _ClassVar[Error.Type]
        InvalidStateTransition: _ClassVar[Error.Type]
        ResourceConflict: _ClassVar[Error.Type]
        ResourceExists: _ClassVar[Error.Type]
        ResourceNotFound: _ClassVar[Error.Type]
        RouterError: _ClassVar[Error.Type]
        ActualLRPCannotBeClaimed: _ClassVar[Error.Type]
        ActualLRPCannotBeStarted: _ClassVar[Error.Type]
        ActualLRPCannotBeCrashed: _ClassVar[Error.Type]
        ActualLRPCannotBeFailed: _ClassVar[Error.Type]
        ActualLRPCannotBeRemoved: _ClassVar[Error.Type]
        ActualLRPCannotBeUnclaimed: _ClassVar[Error.Type]
        RunningOnDifferentCell: _ClassVar[Error.Type]
        GUIDGeneration: _ClassVar[Error.Type]
        Deserialize: _ClassVar[Error.Type]
        Deadlock: _ClassVar[Error.Type]
        Unrecoverable: _ClassVar[Error.Type]
        LockCollision: _ClassVar[Error.Type]
        Timeout: _ClassVar[Error.Type]
    UnknownError: Error.Type
    InvalidRecord: Error.Type
    InvalidRequest: Error.Type
    InvalidResponse: Error.Type
    InvalidProtobufMessage: Error.Type
    InvalidJSON: Error.Type
    FailedToOpenEnvelope: Error.Type
    InvalidStateTransition: Error.Type
    ResourceConflict: Error.Type
    ResourceExists: Error.Type
    ResourceNotFound: Error.Type
    RouterError: Error.Type
    ActualLRPCannotBeClaimed: Error.Type
    ActualLRPCannotBeStarted: Error.Type
    ActualLRPCannotBeCrashed: Error.Type
    ActualLRPCannotBeFailed: Error.Type
    ActualLRPCannotBeRemoved: Error.Type
    ActualLRPCannotBeUnclaimed: Error.Type
    RunningOnDifferentCell: Error.Type
    GUIDGeneration: Error.Type
    Deserialize: Error.Type
    Deadlock: Error.Type
    Unrecoverable: Error.Type
    LockCollision: Error.Type
    Timeout: Error.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    type: Error.Type
    message: str
    def __init__(self, type: _Optional[_Union[Error.Type, str]] = ..., message: _Optional[str] = ...) -> None: ...
