from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SharedDevice(_message.Message):
    __slots__ = ("volume_id", "mount_config")
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    MOUNT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    mount_config: str
    def __init__(self, volume_id: _Optional[str] = ..., mount_config: _Optional[str] = ...) -> None: ...

class DedicatedDevice(_message.Message):
    __slots__ = ("mounter_id", "mount_config", "device_config")
    MOUNTER_ID_FIELD_NUMBER: _ClassVar[int]
    MOUNT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    DEVICE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    mounter_id: str
    mount_config: str
    device_config: str
    def __init__(self, mounter_id: _Optional[str] = ..., mount_config: _Optional[str] = ..., device_config: _Optional[str] = ...) -> None: ...

class VolumeMount(_message.Message):
    __slots__ = ("driver", "container_dir", "mode", "shared", "dedicated")
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_DIR_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    DEDICATED_FIELD_NUMBER: _ClassVar[int]
    driver: str
    container_dir: str
    mode: str
    shared: SharedDevice
    dedicated: DedicatedDevice
    def __init__(self, driver: _Optional[str] = ..., container_dir: _Optional[str] = ..., mode: _Optional[str] = ..., shared: _Optional[_Union[SharedDevice, _Mapping]] = ..., dedicated: _Optional[_Union[DedicatedDevice, _Mapping]] = ...) -> None: ...

class VolumePlacement(_message.Message):
    __slots__ = ("driver_names",)
    DRIVER_NAMES_FIELD_NUMBER: _ClassVar[int]
    driver_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, driver_names: _Optional[_Iterable[str]] = ...) -> None: ...
