from fakebbs.models import actual_lrp_pb2 as _actual_lrp_pb2
from fakebbs.models import desired_lrp_pb2 as _desired_lrp_pb2
from fakebbs.models import modification_tag_pb2 as _modification_tag_pb2
from fakebbs.models import task_pb2 as _task_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActualLRPCreatedEvent(_message.Message):
    __slots__ = ("actual_lrp_group",)
    ACTUAL_LRP_GROUP_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_group: _actual_lrp_pb2.ActualLRPGroup
    def __init__(self, actual_lrp_group: _Optional[_Union[_actual_lrp_pb2.ActualLRPGroup, _Mapping]] = ...) -> None: ...

class ActualLRPChangedEvent(_message.Message):
    __slots__ = ("before", "after")
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    before: _actual_lrp_pb2.ActualLRPGroup
    after: _actual_lrp_pb2.ActualLRPGroup
    def __init__(self, before: _Optional[_Union[_actual_lrp_pb2.ActualLRPGroup, _Mapping]] = ..., after: _Optional[_Union[_actual_lrp_pb2.ActualLRPGroup, _Mapping]] = ...) -> None: ...

class ActualLRPRemovedEvent(_message.Message):
    __slots__ = ("actual_lrp_group",)
    ACTUAL_LRP_GROUP_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_group: _actual_lrp_pb2.ActualLRPGroup
    def __init__(self, actual_lrp_group: _Optional[_Union[_actual_lrp_pb2.ActualLRPGroup, _Mapping]] = ...) -> None: ...

class ActualLRPInstanceCreatedEvent(_message.Message):
    __slots__ = ("actual_lrp", "trace_id")
    ACTUAL_LRP_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    actual_lrp: _actual_lrp_pb2.ActualLRP
    trace_id: str
    def __init__(self, actual_lrp: _Optional[_Union[_actual_lrp_pb2.ActualLRP, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class ActualLRPInfo(_message.Message):
    __slots__ = ("actual_lrp_net_info", "crash_count", "crash_reason", "state", "placement_error", "since", "modification_tag", "presence", "Routable", "availability_zone")
    ACTUAL_LRP_NET_INFO_FIELD_NUMBER: _ClassVar[int]
    CRASH_COUNT_FIELD_NUMBER: _ClassVar[int]
    CRASH_REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_ERROR_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    MODIFICATION_TAG_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    ROUTABLE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_net_info: _actual_lrp_pb2.ActualLRPNetInfo
    crash_count: int
    crash_reason: str
    state: str
    placement_error: str
    since: int
    modification_tag: _modification_tag_pb2.ModificationTag
    presence: _actual_lrp_pb2.ActualLRP.Presence
    Routable: bool
    availability_zone: str
    def __init__(self, actual_lrp_net_info: _Optional[_Union[_actual_lrp_pb2.ActualLRPNetInfo, _Mapping]] = ..., crash_count: _Optional[int] = ..., crash_reason: _Optional[str] = ..., state: _Optional[str] = ..., placement_error: _Optional[str] = ..., since: _Optional[int] = ..., modification_tag: _Optional[_Union[_modification_tag_pb2.ModificationTag, _Mapping]] = ..., presence: _Optional[_Union[_actual_lrp_pb2.ActualLRP.Presence, str]] = ..., Routable: bool = ..., availability_zone: _Optional[str] = ...) -> None: ...

class ActualLRPInstanceChangedEvent(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "before", "after", "trace_id")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    before: ActualLRPInfo
    after: ActualLRPInfo
    trace_id: str
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ..., before: _Optional[_Union[ActualLRPInfo, _Mapping]] = ..., after: _Optional[_Union[ActualLRPInfo, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class ActualLRPInstanceRemovedEvent(_message.Message):
    __slots__ = ("actual_lrp", "trace_id")
    ACTUAL_LRP_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    actual_lrp: _actual_lrp_pb2.ActualLRP
    trace_id: str
    def __init__(self, actual_lrp: _Optional[_Union[_actual_lrp_pb2.ActualLRP, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class DesiredLRPCreatedEvent(_message.Message):
    __slots__ = ("desired_lrp", "trace_id")
    DESIRED_LRP_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    desired_lrp: _desired_lrp_pb2.DesiredLRP
    trace_id: str
    def __init__(self, desired_lrp: _Optional[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class DesiredLRPChangedEvent(_message.Message):
    __slots__ = ("before", "after", "trace_id")
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    before: _desired_lrp_pb2.DesiredLRP
    after: _desired_lrp_pb2.DesiredLRP
    trace_id: str
    def __init__(self, before: _Optional[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]] = ..., after: _Optional[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class DesiredLRPRemovedEvent(_message.Message):
    __slots__ = ("desired_lrp", "trace_id")
    DESIRED_LRP_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    desired_lrp: _desired_lrp_pb2.DesiredLRP
    trace_id: str
    def __init__(self, desired_lrp: _Optional[_Union[_desired_lrp_pb2.DesiredLRP, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class ActualLRPCrashedEvent(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "crash_count", "crash_reason", "since")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    CRASH_COUNT_FIELD_NUMBER: _ClassVar[int]
    CRASH_REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    crash_count: int
    crash_reason: str
    since: int
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ..., crash_count: _Optional[int] = ..., crash_reason: _Optional[str] = ..., since: _Optional[int] = ...) -> None: ...

class EventsByCellId(_message.Message):
    __slots__ = ("cell_id",)
    CELL_ID_FIELD_NUMBER: _ClassVar[int]
    cell_id: str
    def __init__(self, cell_id: _Optional[str] = ...) -> None: ...

class TaskCreatedEvent(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class TaskChangedEvent(_message.Message):
    __slots__ = ("before", "after")
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    before: _task_pb2.Task
    after: _task_pb2.Task
    def __init__(self, before: _Optional[_Union[_task_pb2.Task, _Mapping]] = ..., after: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...

class TaskRemovedEvent(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task_pb2.Task
    def __init__(self, task: _Optional[_Union[_task_pb2.Task, _Mapping]] = ...) -> None: ...
