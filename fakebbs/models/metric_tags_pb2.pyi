from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetricTagValue(_message.Message):
    __slots__ = ("static", "dynamic")
    class DynamicValue(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DynamicValueInvalid: _ClassVar[MetricTagValue.DynamicValue]
        INDEX: _ClassVar[MetricTagValue.DynamicValue]
        INSTANCE_GUID: _ClassVar[MetricTagValue.DynamicValue]
    DynamicValueInvalid: MetricTagValue.DynamicValue
    INDEX: MetricTagValue.DynamicValue
    INSTANCE_GUID: MetricTagValue.DynamicValue
    STATIC_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_FIELD_NUMBER: _ClassVar[int]
    static: str
    dynamic: MetricTagValue.DynamicValue
    def __init__(self, static: _Optional[str] = ..., dynamic: _Optional[_Union[MetricTagValue.DynamicValue, str]] = ...) -> None: ...
