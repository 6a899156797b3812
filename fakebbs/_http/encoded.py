"""List answers joined from each stored item's serialized bytes.

On success a list route answers a response message whose only field is one repeated message
field, and on the wire a repeated message field is each element's tag, length and bytes, one
after the other. So an answer is the concatenation of its elements framed that way, and each
element's framed bytes can be made once and kept. ``EncodedLists`` keeps them per stored item
(desired LRP, actual LRP row, task) and per ``Form`` a list route returns (V3, V2, the 2016 V1
and V0, scheduling info, routing info, ...); an unfiltered answer is also kept whole.

Invalidation is the store's change record: its listener drops an item's bytes, and the whole
answers of the item's kind, on every change of it (a restore or reset drops every whole
answer). Entries are also found by the identity of
the stored message they were made from (a write stores a new message), so they could not
serve stale bytes even for a write that bypassed the record; such a write only leaves entries
behind, which are pruned once they outnumber the store's items.

The bytes are those of ``SerializeToString(deterministic=True)``, which serializes an embedded
message exactly as the message alone, so a joined answer is byte for byte what encoding the
whole response message gives (``tests/test_encoded.py`` checks every list route).

An ``EncodedLists`` belongs to one store; all its methods run under the
store's lock, as its listener does, so a reader never joins bytes a writer is replacing.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._http.versions import (
    present_desired_lrp,
    task_version_down_to,
)
from fakebbs._rules.store import ActualKey, Change, Store
from fakebbs._rules.views import (
    GroupFacts,
    actual_lrp_group_facts,
    pick_actual_lrp_groups,
    routing_info,
    scheduling_info,
)
from fakebbs._rules.wire import Encoded

__all__ = [
    "Encoded",
    "EncodedLists",
    "Form",
    "DESIRED_LRP_FORMS",
    "SCHEDULING_INFO",
    "ROUTING_INFO",
    "ACTUAL_LRP",
    "ACTUAL_LRPS_BY_PROCESS_GUIDS",
    "TASK_FORMS",
]

M = TypeVar("M", bound=Message)
S = TypeVar("S", bound=Message)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(message_type: type[Message], field_name: str) -> bytes:
    """The key of a length-delimited field: its number and wire type 2."""
    number = message_type.DESCRIPTOR.fields_by_name[field_name].number
    return _varint(number << 3 | 2)


def _framed(tag: bytes, data: bytes) -> bytes:
    return tag + _varint(len(data)) + data


@dataclass(frozen=True, eq=False)
class Form(Generic[S]):
    """One way a list route shows a stored item of ``kind`` (a ``Change.kind``): ``convert``
    makes the element from the stored message (never changing it), which goes in
    ``response``'s ``field``. Forms with the same ``name`` must make the same bytes."""

    name: str
    kind: str
    response: type[Message]
    field: str
    convert: Callable[[S], Message]
    tag: bytes = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tag", _tag(self.response, self.field))

    def frame(self, stored: S) -> bytes:
        return _framed(self.tag, self.convert(stored).SerializeToString(deterministic=True))


def _desired_lrp_form(version: int, legacy: bool) -> Form[models.DesiredLRP]:
    def convert(lrp: models.DesiredLRP) -> Message:
        return present_desired_lrp(lrp, version, legacy=legacy)

    name = f"desired_lrp_v{version}" + ("_2016" if legacy else "")
    return Form(name, "desired_lrp", models.DesiredLRPsResponse, "desired_lrps", convert)


def _task_form(version: int, legacy: bool) -> Form[models.Task]:
    def convert(task: models.Task) -> Message:
        return task_version_down_to(task, version, legacy=legacy)

    name = f"task_v{version}" + ("_2016" if legacy else "")
    return Form(name, "task", models.TasksResponse, "tasks", convert)


def _as_is(message: Message) -> Message:
    return message


DESIRED_LRP_FORMS: dict[tuple[int, bool], Form[models.DesiredLRP]] = {
    (version, legacy): _desired_lrp_form(version, legacy)
    for version, legacy in ((3, False), (2, False), (1, True), (0, True))
}
"""The desired LRP list revisions by (model version, 2016 conversion)."""

TASK_FORMS: dict[tuple[int, bool], Form[models.Task]] = {
    (version, legacy): _task_form(version, legacy)
    for version, legacy in ((3, False), (2, False), (1, True), (0, True))
}
"""The task list revisions by (model version, 2016 conversion)."""


SCHEDULING_INFO: Form[models.DesiredLRP] = Form(
    "scheduling_info",
    "desired_lrp",
    models.DesiredLRPSchedulingInfosResponse,
    "desired_lrp_scheduling_infos",
    scheduling_info,
)
ROUTING_INFO: Form[models.DesiredLRP] = Form(
    "routing_info", "desired_lrp", models.DesiredLRPsResponse, "desired_lrps", routing_info
)
ACTUAL_LRP: Form[models.ActualLRP] = Form(
    "actual_lrp", "actual_lrp", models.ActualLRPsResponse, "actual_lrps", _as_is
)
"""Rows as stored."""
ACTUAL_LRPS_BY_PROCESS_GUIDS: Form[models.ActualLRP] = Form(
    "actual_lrp", "actual_lrp", models.ActualLRPsByProcessGuidsResponse, "actual_lrps", _as_is
)
"""The same bytes (same name) as ``ACTUAL_LRP``: the field has the same number there."""
assert ACTUAL_LRPS_BY_PROCESS_GUIDS.tag == ACTUAL_LRP.tag
_GROUP_INSTANCE: Form[models.ActualLRP] = Form(
    "group_instance", "actual_lrp", models.ActualLRPGroup, "instance", _as_is
)
_GROUP_EVACUATING: Form[models.ActualLRP] = Form(
    "group_evacuating", "actual_lrp", models.ActualLRPGroup, "evacuating", _as_is
)
_GROUPS_TAG = _tag(models.ActualLRPGroupsResponse, "actual_lrp_groups")
_GROUP_OF_INSTANCE: Form[models.ActualLRP] = Form(
    "group_of_instance",
    "actual_lrp",
    models.ActualLRPGroupsResponse,
    "actual_lrp_groups",
    lambda lrp: models.ActualLRPGroup(instance=lrp),
)
"""A whole group element showing this row alone, the usual case, kept as one piece."""
_GROUP_OF_EVACUATING: Form[models.ActualLRP] = Form(
    "group_of_evacuating",
    "actual_lrp",
    models.ActualLRPGroupsResponse,
    "actual_lrp_groups",
    lambda lrp: models.ActualLRPGroup(evacuating=lrp),
)


class _Entry:
    """One stored message kept (so its ``id`` stays its own while its bytes are kept), with
    its store key and, for an actual LRP row, what grouping reads of it."""

    __slots__ = ("key", "source", "facts")

    def __init__(self, key: Hashable, source: Any) -> None:
        self.key = key
        self.source = source
        self.facts: GroupFacts | None = (
            actual_lrp_group_facts(source) if isinstance(source, models.ActualLRP) else None
        )


_KEYS: dict[str, Callable[[Any], Hashable]] = {
    "desired_lrp": lambda lrp: lrp.process_guid,
    "actual_lrp": ActualKey.of,
    "task": lambda task: task.task_guid,
}
"""How a changed message names its stored item, per ``Change.kind``."""


_FACTS: Callable[[_Entry], GroupFacts] = operator.attrgetter("facts")
"""An actual LRP row entry's ``GroupFacts`` (made with the entry)."""


class _Kept:
    """What is kept for one kind of item. Entries and their framed bytes are found by the
    identity of the stored message they were made from (a write stores a new message, so they
    can only ever serve the message they describe); ``id_of`` says which message is kept for
    each store key, for the listener, which knows keys."""

    def __init__(self) -> None:
        self.by_id: dict[int, _Entry] = {}
        self.id_of: dict[Hashable, int] = {}
        self.framed: dict[str, dict[int, bytes]] = {}
        """Per form name, the framed bytes made so far by message id."""
        self.whole: dict[object, tuple[int, Encoded[Any]]] = {}

    def entry(self, key: Hashable, stored: Message) -> _Entry:
        entry = self.by_id.get(id(stored))
        if entry is None:
            self.drop(key)
            entry = self.by_id[id(stored)] = _Entry(key, stored)
            self.id_of[key] = id(stored)
        return entry

    def frame(self, form: Form[Any], key: Hashable, stored: Message) -> bytes:
        """``stored`` framed in ``form``, made now and kept."""
        self.entry(key, stored)
        data = self.framed.setdefault(form.name, {})[id(stored)] = form.frame(stored)
        return data

    def drop(self, key: Hashable) -> None:
        ident = self.id_of.pop(key, None)
        if ident is not None:
            del self.by_id[ident]
            for framed in self.framed.values():
                framed.pop(ident, None)


class EncodedLists:
    """The framed bytes of one store's items, and list answers joined from them.

    An unfiltered answer (every item of its kind, ``every=True``) is kept whole as well, until
    a change of that kind: a list read again with nothing changed in between costs nothing.
    """

    def __init__(self, store: Store) -> None:
        """The cache of ``store``'s items; its owner registers ``forget`` as a listener of
        the store (``FakeBBS`` does), so that no change leaves stale bytes behind."""
        self._store = store
        self._kept = {kind: _Kept() for kind in _KEYS}

    def forget(self, changes: list[Change]) -> None:
        """The store's listener: drop the bytes of every item a change touched, and the whole
        answers of its kind.

        A restore (or reset) drops every whole answer and nothing else: working out the rows
        it changed would cost a pass over both snapshots (a restore itself costs well under a
        millisecond). Entries are found by message identity, so the restored rows are served
        their own bytes; the entries of rows it replaced are left to the pruning that keeps
        entries to at most about twice the store's items."""
        for change in changes:
            if change.kind == "restore":
                for every_kind in self._kept.values():
                    every_kind.whole.clear()
                continue
            kept = self._kept.get(change.kind)
            if kept is None:
                continue  # domains, cells...: nothing kept
            kept.whole.clear()
            if not kept.id_of:
                continue  # no item's bytes kept (nothing listed since): nothing to find
            key_of = _KEYS[change.kind]
            for message in (change.before, change.after, change.replaced):
                if message is not None:
                    kept.drop(key_of(message))

    def size(self) -> int:
        """How many stored items have bytes kept."""
        with self._store.lock:
            return sum(len(kept.by_id) for kept in self._kept.values())

    def join(
        self, form: Form[S], rows: Iterable[tuple[Hashable, S]], *, every: bool = False
    ) -> Encoded[Any]:
        """The list answer of ``form`` for the stored (key, message) ``rows``, in their order.

        ``rows`` is iterated under the store's lock: pass a generator over the store (such as
        ``State.desired_lrp_rows``), so that the rows are selected and joined at one moment.
        ``every`` says that the rows would be all the store's items of ``form.kind``, in store
        order, unfiltered; the store is then read directly.
        """
        kept = self._kept[form.kind]

        def build() -> Encoded[Any]:
            items = self._held(form.kind).items() if every else rows
            get = kept.framed.setdefault(form.name, {}).get
            frame = kept.frame
            parts = [get(id(stored)) or frame(form, key, stored) for key, stored in items]
            return Encoded(form.response, b"".join(parts))

        return self._answer(form.kind, form, every, build)

    def join_groups(
        self, rows: Iterable[tuple[Hashable, models.ActualLRP]], *, every: bool = False
    ) -> Encoded[models.ActualLRPGroupsResponse]:
        """The ``ActualLRPGroupsResponse`` of the stored actual LRP ``rows`` (``every`` and
        ``rows`` as for ``join``): each group, as ``pick_actual_lrp_groups`` resolves it, is
        its rows framed as its ``instance`` and ``evacuating`` fields."""
        kept = self._kept["actual_lrp"]

        def framed(form: Form[Any], entry: _Entry) -> bytes:
            data = kept.framed.setdefault(form.name, {}).get(id(entry.source))
            return data or kept.frame(form, entry.key, entry.source)

        def build() -> Encoded[Any]:
            items = self._store.actual_lrps.items() if every else rows
            by_id, entry = kept.by_id, kept.entry
            entries = (by_id.get(id(stored)) or entry(key, stored) for key, stored in items)
            alone = kept.framed.setdefault(_GROUP_OF_INSTANCE.name, {}).get
            parts = []
            for instance, evacuating in pick_actual_lrp_groups(entries, _FACTS):
                if evacuating is None:
                    assert instance is not None
                    data = alone(id(instance.source))
                    parts.append(data or framed(_GROUP_OF_INSTANCE, instance))
                elif instance is None:
                    parts.append(framed(_GROUP_OF_EVACUATING, evacuating))
                else:
                    inner = framed(_GROUP_INSTANCE, instance) + framed(
                        _GROUP_EVACUATING, evacuating
                    )
                    parts.append(_framed(_GROUPS_TAG, inner))
            return Encoded(models.ActualLRPGroupsResponse, b"".join(parts))

        return self._answer("actual_lrp", _GROUPS_TAG, every, build)

    def _answer(
        self, kind: str, name: object, every: bool, build: Callable[[], Encoded[Any]]
    ) -> Encoded[Any]:
        """``build()`` under the lock, or the whole answer kept under ``name``.

        A whole answer is used only while the store holds as many items of ``kind`` as when
        it was made: the listener drops it on any change of the kind, and the count also
        catches a store emptied without a recorded change."""
        kept = self._kept[kind]
        with self._store.lock:
            held = self._held(kind)
            if every:
                whole = kept.whole.get(name)
                if whole is not None and whole[0] == len(held):
                    return whole[1]
            answer = build()
            if every:
                kept.whole[name] = (len(held), answer)
            if len(kept.by_id) > 2 * len(held) + 64:
                self._prune(kept, held)
        return answer

    def _held(self, kind: str) -> Mapping[Any, Message]:
        if kind == "desired_lrp":
            return self._store.desired_lrps
        return self._store.actual_lrps if kind == "actual_lrp" else self._store.tasks

    @staticmethod
    def _prune(kept: _Kept, held: Mapping[Any, Message]) -> None:
        """Keep entries only for messages the store still holds, should a write ever have
        bypassed the change record (so the kept bytes stay bounded by the store)."""
        for entry in list(kept.by_id.values()):
            if held.get(entry.key) is not entry.source:
                kept.drop(entry.key)
