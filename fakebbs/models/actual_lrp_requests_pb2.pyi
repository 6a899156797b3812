from fakebbs.models import actual_lrp_pb2 as _actual_lrp_pb2
from fakebbs.models import error_pb2 as _error_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActualLRPLifecycleResponse(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ...) -> None: ...

class ActualLRPGroupsResponse(_message.Message):
    __slots__ = ("error", "actual_lrp_groups")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_GROUPS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    actual_lrp_groups: _containers.RepeatedCompositeFieldContainer[_actual_lrp_pb2.ActualLRPGroup]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., actual_lrp_groups: _Optional[_Iterable[_Union[_actual_lrp_pb2.ActualLRPGroup, _Mapping]]] = ...) -> None: ...

class ActualLRPGroupResponse(_message.Message):
    __slots__ = ("error", "actual_lrp_group")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_GROUP_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    actual_lrp_group: _actual_lrp_pb2.ActualLRPGroup
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., actual_lrp_group: _Optional[_Union[_actual_lrp_pb2.ActualLRPGroup, _Mapping]] = ...) -> None: ...

class ActualLRPGroupsRequest(_message.Message):
    __slots__ = ("domain", "cell_id")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    CELL_ID_FIELD_NUMBER: _ClassVar[int]
    domain: str
    cell_id: str
    def __init__(self, domain: _Optional[str] = ..., cell_id: _Optional[str] = ...) -> None: ...

class ActualLRPGroupsByProcessGuidRequest(_message.Message):
    __slots__ = ("process_guid",)
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    def __init__(self, process_guid: _Optional[str] = ...) -> None: ...

class ActualLRPGroupByProcessGuidAndIndexRequest(_message.Message):
    __slots__ = ("process_guid", "index")
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    index: int
    def __init__(self, process_guid: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class ClaimActualLRPRequest(_message.Message):
    __slots__ = ("process_guid", "index", "actual_lrp_instance_key")
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    index: int
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    def __init__(self, process_guid: _Optional[str] = ..., index: _Optional[int] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ...) -> None: ...

class StartActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "actual_lrp_net_info", "actual_lrp_internal_routes", "metric_tags", "Routable", "availability_zone")
    class MetricTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_NET_INFO_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INTERNAL_ROUTES_FIELD_NUMBER: _ClassVar[int]
    METRIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    ROUTABLE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    actual_lrp_net_info: _actual_lrp_pb2.ActualLRPNetInfo
    actual_lrp_internal_routes: _containers.RepeatedCompositeFieldContainer[_actual_lrp_pb2.ActualLRPInternalRoute]
    metric_tags: _containers.ScalarMap[str, str]
    Routable: bool
    availability_zone: str
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ..., actual_lrp_net_info: _Optional[_Union[_actual_lrp_pb2.ActualLRPNetInfo, _Mapping]] = ..., actual_lrp_internal_routes: _Optional[_Iterable[_Union[_actual_lrp_pb2.ActualLRPInternalRoute, _Mapping]]] = ..., metric_tags: _Optional[_Mapping[str, str]] = ..., Routable: bool = ..., availability_zone: _Optional[str] = ...) -> None: ...

class CrashActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "error_message")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    error_message: str
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ..., error_message: _Optional[str] = ...) -> None: ...

class FailActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "error_message")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    error_message: str
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., error_message: _Optional[str] = ...) -> None: ...

class RetireActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key",)
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ...) -> None: ...

class RemoveActualLRPRequest(_message.Message):
    __slots__ = ("process_guid", "index", "actual_lrp_instance_key")
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    index: int
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    def __init__(self, process_guid: _Optional[str] = ..., index: _Optional[int] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ...) -> None: ...

class ActualLRPsResponse(_message.Message):
    __slots__ = ("error", "actual_lrps")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRPS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    actual_lrps: _containers.RepeatedCompositeFieldContainer[_actual_lrp_pb2.ActualLRP]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., actual_lrps: _Optional[_Iterable[_Union[_actual_lrp_pb2.ActualLRP, _Mapping]]] = ...) -> None: ...

class ActualLRPsRequest(_message.Message):
    __slots__ = ("domain", "cell_id", "process_guid", "index")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    CELL_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    domain: str
    cell_id: str
    process_guid: str
    index: int
    def __init__(self, domain: _Optional[str] = ..., cell_id: _Optional[str] = ..., process_guid: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class ActualLRPsByProcessGuidsResponse(_message.Message):
    __slots__ = ("error", "actual_lrps")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRPS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    actual_lrps: _containers.RepeatedCompositeFieldContainer[_actual_lrp_pb2.ActualLRP]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., actual_lrps: _Optional[_Iterable[_Union[_actual_lrp_pb2.ActualLRP, _Mapping]]] = ...) -> None: ...

class ActualLRPsByProcessGuidsRequest(_message.Message):
    __slots__ = ("process_guids",)
    PROCESS_GUIDS_FIELD_NUMBER: _ClassVar[int]
    process_guids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, process_guids: _Optional[_Iterable[str]] = ...) -> None: ...
