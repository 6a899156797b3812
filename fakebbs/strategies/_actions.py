"""Valid actions: the leaf kinds (download, upload, run) and the wrappers around them."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from fakebbs import models
from fakebbs.strategies._common import (
    Construct,
    message,
    named,
    names,
    nonnegative,
    shown_as_call,
    texts,
)

__all__ = [
    "ACTION_KINDS",
    "LEAF_ACTION_KINDS",
    "actions",
    "checksums",
    "environment_variables",
    "files",
]

LEAF_ACTION_KINDS: tuple[str, ...] = ("download", "upload", "run")
"""Actions that do something themselves."""
ACTION_KINDS: tuple[str, ...] = (
    *LEAF_ACTION_KINDS,
    "timeout",
    "emit_progress",
    "try",
    "parallel",
    "serial",
    "codependent",
)
"""Every kind of ``Action``, named by its field without the ``_action`` suffix."""

_CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256", "MD5", "SHA1", "SHA256")


@shown_as_call
def checksums() -> SearchStrategy[tuple[str, str]]:
    """(algorithm, value) pairs the checksum rule accepts: both empty, or a known algorithm
    (any case) with a value."""
    return st.one_of(
        st.just(("", "")),
        st.tuples(st.sampled_from(_CHECKSUM_ALGORITHMS), st.text("0123456789abcdef", min_size=1)),
    )


@shown_as_call
def environment_variables() -> SearchStrategy[models.EnvironmentVariable]:
    return message(models.EnvironmentVariable, {"name": names(), "value": texts()})


@shown_as_call
def files() -> SearchStrategy[models.File]:
    return message(
        models.File, {"path": names().map(lambda n: "/etc/" + n), "content": texts(max_size=40)}
    )


def _paths() -> SearchStrategy[str]:
    return names().map(lambda n: "/tmp/" + n)


def _download(user: SearchStrategy[str]) -> SearchStrategy[models.Action]:
    def download_action(fields: dict[str, object], checksum: tuple[str, str]) -> models.Action:
        download = models.DownloadAction(**fields)  # type: ignore[arg-type]
        download.checksum_algorithm, download.checksum_value = checksum
        return models.Action(download_action=download)

    fields = st.fixed_dictionaries(
        {
            "from": names().map(lambda n: "http://blobs.example.com/" + n),
            "to": _paths(),
            "user": user,
        },
        optional={"artifact": texts(), "cache_key": names(), "log_source": texts()},
    )
    return st.builds(download_action, fields, checksums())


def _upload(user: SearchStrategy[str]) -> SearchStrategy[models.Action]:
    return message(
        models.UploadAction,
        {
            "from": _paths(),
            "to": names().map(lambda n: "http://blobs.example.com/" + n),
            "user": user,
        },
        {"artifact": texts(), "log_source": texts()},
    ).map(Construct(models.Action, "upload_action"))


def _run(user: SearchStrategy[str]) -> SearchStrategy[models.Action]:
    limits = message(
        models.ResourceLimits, optional={"nofile": nonnegative(2**20), "nproc": nonnegative(2**20)}
    )
    return message(
        models.RunAction,
        {"path": _paths(), "user": user},
        {
            "args": st.lists(texts(), max_size=3),
            "dir": _paths(),
            "env": st.lists(environment_variables(), max_size=2),
            "resource_limits": limits,
            "log_source": texts(),
            "suppress_log_output": st.booleans(),
            "volume_mounted_files": st.lists(files(), max_size=2),
        },
    ).map(Construct(models.Action, "run_action"))


def _wrap(
    kind: str, inner: SearchStrategy[models.Action], group_size: int
) -> SearchStrategy[models.Action]:
    if kind == "timeout":
        timeout = message(
            models.TimeoutAction,
            {"action": inner, "timeout_ms": st.integers(1, 2**40)},
            {"log_source": texts(), "deprecated_timeout_ns": nonnegative(2**50)},
        )
        return timeout.map(Construct(models.Action, "timeout_action"))
    if kind == "emit_progress":
        progress = message(
            models.EmitProgressAction,
            {"action": inner},
            {
                "start_message": texts(),
                "success_message": texts(),
                "failure_message_prefix": texts(),
                "log_source": texts(),
            },
        )
        return progress.map(Construct(models.Action, "emit_progress_action"))
    if kind == "try":
        attempt = message(models.TryAction, {"action": inner}, {"log_source": texts()})
        return attempt.map(Construct(models.Action, "try_action"))
    group_type = {
        "parallel": models.ParallelAction,
        "serial": models.SerialAction,
        "codependent": models.CodependentAction,
    }[kind]
    group = message(
        group_type,
        {"actions": st.lists(inner, min_size=1, max_size=group_size)},
        {"log_source": texts()},
    )

    return group.map(Construct(models.Action, f"{kind}_action"))


@shown_as_call
def actions(
    kinds: Iterable[str] | None = None,
    *,
    users: SearchStrategy[str] | None = None,
    max_leaves: int = 4,
) -> SearchStrategy[models.Action]:
    """Valid ``Action`` trees: exactly one kind set at every level, wrappers around at least one
    leaf, every required field filled.

    ``kinds`` narrows the kinds drawn (from ``ACTION_KINDS``; at least one leaf kind);
    ``users`` the ``user`` of downloads, uploads and runs (default: a few short names);
    ``max_leaves`` bounds the tree (below 2: leaves only; below 4: one level of wrappers;
    else two).
    """
    chosen = tuple(ACTION_KINDS if kinds is None else kinds)
    unknown = sorted(set(chosen) - set(ACTION_KINDS))
    if unknown:
        raise ValueError(f"unknown action kinds {unknown}; choose from {ACTION_KINDS}")
    leaf_kinds = [k for k in chosen if k in LEAF_ACTION_KINDS]
    if not leaf_kinds:
        raise ValueError(f"actions() needs at least one leaf kind of {LEAF_ACTION_KINDS}")
    user = users if users is not None else st.sampled_from(["vcap", "root", "app"])
    builders = {"download": _download, "upload": _upload, "run": _run}
    leaves = st.one_of([builders[k](user) for k in leaf_kinds])
    wrappers = [k for k in chosen if k not in LEAF_ACTION_KINDS]
    name = "actions()" if kinds is None else f"actions({chosen!r})"
    if not wrappers or max_leaves < 2:
        return named(leaves, name)
    # Two levels of wrappers at most, built once (st.recursive re-balances its size budget
    # on every draw, which made an action cost more than everything else in a desired LRP).
    group_size = min(3, max_leaves)
    one_level = st.one_of([_wrap(k, leaves, group_size) for k in wrappers])
    if max_leaves < 4:
        return named(st.one_of(leaves, one_level), name)
    two_levels = st.one_of([_wrap(k, st.one_of(leaves, one_level), 2) for k in wrappers])
    return named(st.one_of(leaves, one_level, two_levels), name)
