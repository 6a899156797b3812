from fakebbs.models import desired_lrp_pb2 as _desired_lrp_pb2
from fakebbs.models import error_pb2 as _error_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DesiredLRPLifecycleResponse(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ...) -> None: ...

class DesiredLRPsResponse(_message.Message):
    __slots__ = ("error", "desired_lrps")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DESIRED_LRPS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    desired_lrps: _containers.RepeatedCompositeFieldContainer[_desired_lrp_pb2.DesiredLRP]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., desired_lrps: _Optional[_Iterable[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]]] = ...) -> None: ...

class DesiredLRPsRequest(_message.Message):
    __slots__ = ("domain", "process_guids", "app_guids")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    PROCESS_GUIDS_FIELD_NUMBER: _ClassVar[int]
    APP_GUIDS_FIELD_NUMBER: _ClassVar[int]
    domain: str
    process_guids: _containers.RepeatedScalarFieldContainer[str]
    app_guids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, domain: _Optional[str] = ..., process_guids: _Optional[_Iterable[str]] = ..., app_guids: _Optional[_Iterable[str]] = ...) -> None: ...

class DesiredLRPResponse(_message.Message):
    __slots__ = ("error", "desired_lrp")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DESIRED_LRP_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    desired_lrp: _desired_lrp_pb2.DesiredLRP
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., desired_lrp: _Optional[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]] = ...) -> None: ...

class DesiredLRPSchedulingInfosResponse(_message.Message):
    __slots__ = ("error", "desired_lrp_scheduling_infos")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DESIRED_LRP_SCHEDULING_INFOS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    desired_lrp_scheduling_infos: _containers.RepeatedCompositeFieldContainer[_desired_lrp_pb2.DesiredLRPSchedulingInfo]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., desired_lrp_scheduling_infos: _Optional[_Iterable[_Union[_desired_lrp_pb2.DesiredLRPSchedulingInfo, _Mapping]]] = ...) -> None: ...

class DesiredLRPSchedulingInfoByProcessGuidResponse(_message.Message):
    __slots__ = ("error", "desired_lrp_scheduling_info")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DESIRED_LRP_SCHEDULING_INFO_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    desired_lrp_scheduling_info: _desired_lrp_pb2.DesiredLRPSchedulingInfo
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., desired_lrp_scheduling_info: _Optional[_Union[_desired_lrp_pb2.DesiredLRPSchedulingInfo, _Mapping]] = ...) -> None: ...

class DesiredLRPByProcessGuidRequest(_message.Message):
    __slots__ = ("process_guid",)
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    def __init__(self, process_guid: _Optional[str] = ...) -> None: ...

class DesireLRPRequest(_message.Message):
    __slots__ = ("desired_lrp",)
    DESIRED_LRP_FIELD_NUMBER: _ClassVar[int]
    desired_lrp: _desired_lrp_pb2.DesiredLRP
    def __init__(self, desired_lrp: _Optional[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]] = ...) -> None: ...

class UpdateDesiredLRPRequest(_message.Message):
    __slots__ = ("process_guid", "update")
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    update: _desired_lrp_pb2.DesiredLRPUpdate
    def __init__(self, process_guid: _Optional[str] = ..., update: _Optional[_Union[_desired_lrp_pb2.DesiredLRPUpdate, _Mapping]] = ...) -> None: ...

class RemoveDesiredLRPRequest(_message.Message):
    __slots__ = ("process_guid",)
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    def __init__(self, process_guid: _Optional[str] = ...) -> None: ...
