from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LegacyBindMountMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEGACY_BIND_MOUNT_MODE_RO: _ClassVar[LegacyBindMountMode]
    LEGACY_BIND_MOUNT_MODE_RW: _ClassVar[LegacyBindMountMode]
LEGACY_BIND_MOUNT_MODE_RO: LegacyBindMountMode
LEGACY_BIND_MOUNT_MODE_RW: LegacyBindMountMode

class LegacyVolumeMount(_message.Message):
    __slots__ = ("driver", "deprecated_volume_id", "container_dir", "deprecated_mode", "deprecated_config")
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_DIR_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_MODE_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_CONFIG_FIELD_NUMBER: _ClassVar[int]
    driver: str
    deprecated_volume_id: str
    container_dir: str
    deprecated_mode: LegacyBindMountMode
    deprecated_config: bytes
    def __init__(self, driver: _Optional[str] = ..., deprecated_volume_id: _Optional[str] = ..., container_dir: _Optional[str] = ..., deprecated_mode: _Optional[_Union[LegacyBindMountMode, str]] = ..., deprecated_config: _Optional[bytes] = ...) -> None: ...

class LegacyDesiredLRP(_message.Message):
    __slots__ = ("volume_mounts",)
    VOLUME_MOUNTS_FIELD_NUMBER: _ClassVar[int]
    volume_mounts: _containers.RepeatedCompositeFieldContainer[LegacyVolumeMount]
    def __init__(self, volume_mounts: _Optional[_Iterable[_Union[LegacyVolumeMount, _Mapping]]] = ...) -> None: ...

class LegacyDesireLRPRequest(_message.Message):
    __slots__ = ("desired_lrp",)
    DESIRED_LRP_FIELD_NUMBER: _ClassVar[int]
    desired_lrp: LegacyDesiredLRP
    def __init__(self, desired_lrp: _Optional[_Union[LegacyDesiredLRP, _Mapping]] = ...) -> None: ...

class LegacyTaskDefinition(_message.Message):
    __slots__ = ("volume_mounts",)
    VOLUME_MOUNTS_FIELD_NUMBER: _ClassVar[int]
    volume_mounts: _containers.RepeatedCompositeFieldContainer[LegacyVolumeMount]
    def __init__(self, volume_mounts: _Optional[_Iterable[_Union[LegacyVolumeMount, _Mapping]]] = ...) -> None: ...

class LegacyDesireTaskRequest(_message.Message):
    __slots__ = ("task_definition",)
    TASK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    task_definition: LegacyTaskDefinition
    def __init__(self, task_definition: _Optional[_Union[LegacyTaskDefinition, _Mapping]] = ...) -> None: ...
