"""The parts invalid requests are made of: breakers (a valid message in, a strategy of a copy
broken one way and the InvalidRequest text the BBS answers out) and the broken values they
put in (actions, cached dependencies, image layers, guids, root filesystems)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs._control.selectors import _is_repeated
from fakebbs.strategies._common import GUID_ALPHABET, names, shown_as_call

__all__ = [
    "RUN_ACTION",
    "Breaker",
    "broken_actions",
    "broken_cached_dependencies",
    "broken_image_layers",
    "clearing",
    "copy_message",
    "credentials_alone",
    "guid_breaking",
    "in_definition",
    "invalid_field",
    "negatives",
    "not_urls",
    "setting",
    "setting_path",
    "with_field",
    "with_update_tag",
]


def invalid_field(name: str) -> str:
    return f"Invalid field: {name}"


RUN_ACTION = models.RunAction(path="/bin/app", user="vcap")


@shown_as_call
def broken_actions() -> SearchStrategy[tuple[models.Action, str]]:
    """(action, items) pairs: an action that fails validation, perhaps inside valid wrappers,
    and the items its validation gives."""
    leaf = st.sampled_from(
        [
            (models.Action(), invalid_field("inner-action")),
            (models.Action(run_action=models.RunAction(user="vcap")), invalid_field("path")),
            (models.Action(run_action=models.RunAction(path="/bin/app")), invalid_field("user")),
            (
                models.Action(download_action=models.DownloadAction(to="/tmp/x", user="vcap")),
                invalid_field("from"),
            ),
            (
                models.Action(
                    download_action=models.DownloadAction(
                        **{"from": "http://b/x"},
                        to="/tmp/x",
                        user="vcap",
                        checksum_algorithm="crc32",
                        checksum_value="ab",
                    )
                ),
                invalid_field("invalid algorithm"),
            ),
            (
                models.Action(upload_action=models.UploadAction(to="http://b/x", user="vcap")),
                invalid_field("from"),
            ),
            (
                models.Action(
                    timeout_action=models.TimeoutAction(action=models.Action(run_action=RUN_ACTION))
                ),
                invalid_field("timeout_ms"),
            ),
            (models.Action(serial_action=models.SerialAction()), invalid_field("actions")),
            (models.Action(try_action=models.TryAction()), invalid_field("action")),
        ]
    )

    def wrap(pair: tuple[models.Action, str], how: str) -> tuple[models.Action, str]:
        action, items = pair
        if how == "try":
            return models.Action(try_action=models.TryAction(action=action)), items
        if how == "parallel":
            ok = models.Action(run_action=RUN_ACTION)
            return models.Action(parallel_action=models.ParallelAction(actions=[ok, action])), items
        return action, items

    return st.builds(wrap, leaf, st.sampled_from(["none", "try", "parallel"]))


def broken_cached_dependencies() -> SearchStrategy[tuple[models.CachedDependency, str]]:
    return st.sampled_from(
        [
            (models.CachedDependency(to="/deps/x"), invalid_field("from")),
            (models.CachedDependency(**{"from": "http://b/x"}), invalid_field("to")),
            (
                models.CachedDependency(
                    **{"from": "http://b/x"}, to="/deps/x", checksum_value="ab"
                ),
                invalid_field("checksum algorithm"),
            ),
            (
                models.CachedDependency(
                    **{"from": "http://b/x"}, to="/deps/x", checksum_algorithm="md5"
                ),
                invalid_field("checksum value"),
            ),
        ]
    )


def broken_image_layers() -> SearchStrategy[tuple[models.ImageLayer, str]]:
    shared: dict[str, Any] = {
        "layer_type": models.ImageLayer.SHARED,
        "media_type": models.ImageLayer.TGZ,
    }
    return st.sampled_from(
        [
            (models.ImageLayer(destination_path="/l", **shared), invalid_field("url")),
            (models.ImageLayer(url="https://l/x", **shared), invalid_field("destination_path")),
            (
                models.ImageLayer(
                    url="https://l/x", destination_path="/l", media_type=models.ImageLayer.TGZ
                ),
                invalid_field("layer_type"),
            ),
            (
                models.ImageLayer(
                    url="https://l/x", destination_path="/l", layer_type=models.ImageLayer.SHARED
                ),
                invalid_field("media_type"),
            ),
            (
                models.ImageLayer(
                    url="https://l/x", destination_path="/l", digest_value="ab", **shared
                ),
                f"{invalid_field('digest_algorithm')}, {invalid_field('digest_algorithm')}",
            ),
        ]
    )


Breaker = Callable[[Any], SearchStrategy[tuple[Any, str]]]
"""Takes a valid message, returns a strategy of (broken copy, expected text)."""


def copy_message(message: Any) -> Any:
    result = type(message)()
    result.CopyFrom(message)
    return result


def setting(error: str, **fields: Any) -> Breaker:
    """A breaker that sets plain fields and expects ``error``."""

    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = copy_message(message)
        for name, value in fields.items():
            setattr(broken, name, value)
        return st.just((broken, error))

    return breaker


def setting_path(error: str, path: str, value: Any) -> Breaker:
    """A breaker that sets the dotted ``path`` (``actual_lrp_key.index``) to ``value``."""

    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = copy_message(message)
        *parents, name = path.split(".")
        target = broken
        for parent in parents:
            target = getattr(target, parent)
        if isinstance(value, Message):
            getattr(target, name).CopyFrom(value)
        else:
            setattr(target, name, value)
        return st.just((broken, error))

    return breaker


def with_field(name: str, value: SearchStrategy[Any], error: str) -> Breaker:
    """A breaker that sets ``name`` to a drawn value (a message field is replaced, a repeated
    field gets the value appended) and expects ``error``."""

    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(v: Any) -> tuple[Any, str]:
            broken = copy_message(message)
            field = broken.DESCRIPTOR.fields_by_name[name]
            if _is_repeated(field):  # protobuf 7 has no FieldDescriptor.label
                getattr(broken, name).append(v)
            elif isinstance(v, Message):
                getattr(broken, name).CopyFrom(v)
            else:
                setattr(broken, name, v)
            return broken, error

        return value.map(apply)

    return breaker


def clearing(name: str, error: str) -> Breaker:
    def breaker(message: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = copy_message(message)
        broken.ClearField(name)
        return st.just((broken, error))

    return breaker


def in_definition(breaker: Breaker) -> Breaker:
    """A task-definition breaker applied to a DesireTaskRequest."""

    def on_request(request: Any) -> SearchStrategy[tuple[Any, str]]:
        def apply(pair: tuple[Any, str]) -> tuple[Any, str]:
            broken = copy_message(request)
            broken.task_definition.CopyFrom(pair[0])
            return broken, pair[1]

        return breaker(request.task_definition).map(apply)

    return on_request


def with_update_tag(value: models.MetricTagValue, error: str) -> Breaker:
    def breaker(request: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = copy_message(request)
        broken.update.metric_tags["broken"].CopyFrom(value)
        return st.just((broken, error))

    return breaker


def credentials_alone(sent: str) -> Breaker:
    """An update with one image credential and not the other: the missing one is reported."""
    missing = "image_password" if sent == "image_username" else "image_username"

    def breaker(request: Any) -> SearchStrategy[tuple[Any, str]]:
        broken = copy_message(request)
        broken.update.ClearField(missing)
        setattr(broken.update, sent, "x")
        return st.just((broken, invalid_field(missing)))

    return breaker


def negatives() -> SearchStrategy[int]:
    return st.integers(-(2**31), -1)


def not_urls() -> SearchStrategy[str]:
    """Non-empty root filesystems Go's ``url.Parse`` gives no scheme (or refuses)."""
    return st.one_of(
        st.text("abcdefghij0123456789/", min_size=1, max_size=12).map(
            lambda s: s.lstrip("/") or "x"
        ),
        st.sampled_from(["cflinuxfs4", "/var/rootfs", "1docker:///x", "docker://%zz/x", ":x"]),
    )


def guid_breaking() -> SearchStrategy[str]:
    """Strings that do not match ``^[a-zA-Z0-9_-]+$``."""
    bad = st.text(min_size=1, max_size=3).filter(lambda s: any(c not in GUID_ALPHABET for c in s))
    return st.one_of(st.just(""), st.tuples(names(), bad).map("".join))
