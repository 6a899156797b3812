"""Recordings of a BBS and how their answers are normalized, so that two BBSs compare.

A recording is gzipped (or plain) JSON in the format ``fakebbs-fidelity-corpus/1``: a header
that documents itself, and ``sequences`` of steps, each step one call with the BBS's normalized
answer and the events the open streams carried after it. The project's test data holds one
made from a real BBS (``tests/data/fidelity/corpus.json.gz``); ``fakebbs record`` writes one
from any BBS's traffic.

Normalization makes answers of two BBSs comparable without hiding behaviour: a 200 body is
the response message in the protobuf JSON mapping with the .proto field names; the sequence's
tag (if it has one) becomes ``<T>``; lists that may hold other users' rows keep this
sequence's; lists whose upstream order is a SELECT without ORDER BY are sorted by their key;
timestamps and trace ids are dropped; modification tag epochs become per-sequence labels
``E1``, ``E2``... (``<epoch>`` in events). ``NORMALIZATION`` spells the rules out; recordings
carry that list in their header.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from fakebbs import models
from fakebbs.routes import EVENT_TYPES, ROUTES, Route

__all__ = [
    "FORMAT",
    "NORMALIZATION",
    "TAG",
    "Normalizer",
    "auction_entry",
    "event_score",
    "event_key",
    "event_label",
    "event_view",
    "load_recording",
    "message_class",
    "new_tag",
    "request_text",
    "route_of",
    "save_recording",
    "stream_body",
    "to_json",
]

FORMAT = "fakebbs-fidelity-corpus/1"
TAG = "<T>"
"""What a sequence's tag is written as in answers, events and outbound calls."""

DROPPED = frozenset({"since", "created_at", "updated_at", "trace_id"})
SET_OR_ZERO = frozenset({"first_completed_at"})
OTHER_USERS_LISTS = ("domains", "cells", "actual_lrps", "tasks", "actual_lrp_groups")

NORMALIZATION = [
    "answer = {status, content_type, body}; for a status other than 200 body is the first 300 "
    "bytes of the response as UTF-8 text (invalid bytes replaced)",
    "a 200 body is decoded as response_message and written in the protobuf JSON mapping with "
    "the .proto field names (json_format.MessageToDict(preserving_proto_field_name=True)): "
    "default values omitted, enums by name, 64-bit integers as strings, bytes as base64; a body "
    "that does not decode gives 'undecodable' instead of 'body'",
    "a sequence with a tag: the tag is replaced by <T> in every string, map key and bytes value "
    "(bytes: in the raw bytes, then base64); domains, actual_lrps, tasks and actual_lrp_groups "
    "keep only the entries containing it (a sequence without a tag keeps every entry)",
    "cells keep those whose cell_id is one of the part's cell_ids, sorted by cell_id; a list "
    "left empty is removed",
    "lists whose upstream order is a SELECT without ORDER BY are sorted: actual_lrps by "
    "(actual_lrp_key.process_guid, index, presence (default ORDINARY), "
    "actual_lrp_instance_key.instance_guid); actual_lrp_groups by the same key of their "
    "instance (else evacuating); desired_lrps by process_guid; desired_lrp_scheduling_infos by "
    "desired_lrp_key.process_guid; tasks by task_guid; domains as strings",
    "fields named since, created_at, updated_at, trace_id are removed at any depth",
    'first_completed_at is replaced by "<set>" (non-zero) or "<zero>"',
    "a field named ports holding a list of integers (DesiredLRP.ports) is sorted",
    "modification_tag becomes {epoch, index}; in answers the epoch is a per-sequence label E1, "
    'E2, ... in order of first appearance (answers walked in order, object keys sorted), "" '
    'when empty; in event payloads it is "<epoch>" ("" when empty)',
    "events: after each call, the events of each open stream (with a tag: whose guid contains "
    "it) decoded and normalized like answers; key = guid for desired and task events, "
    "guid/index for actual LRP events; score = upstream's EventScore (crashed 2, an event whose "
    "resulting LRP is RUNNING 1, else 0)",
    "events are compared per stream and per (family, key) in order, except that a run of "
    "consecutive events with equal score is compared as a set",
    "rep_calls: method, path and the first 200 characters of the body, tag as <T>; "
    "auction_calls: one entry per element of the posted list, indices sorted, a null "
    "VolumeDrivers written as []; both may land one step late (upstream calls from goroutines)",
]


def load_recording(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A recording read from ``path`` (gzipped when its name ends in .gz); ValueError when it
    is not one."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        recording = json.load(f)
    if not isinstance(recording, dict) or recording.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)}: not a {FORMAT} recording")
    return recording


def save_recording(recording: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``recording`` to ``path`` (gzipped when its name ends in .gz), replacing it whole."""
    data = json.dumps(recording, sort_keys=True, indent=None).encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


def new_tag() -> str:
    """A fresh sequence tag: ``df`` and 8 hex digits, the recorded tags' length and alphabet."""
    return "df" + os.urandom(4).hex()


def message_class(name: str) -> type[Message]:
    cls = getattr(models, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Message)):
        raise ValueError(f"fakebbs.models has no message {name!r}")
    return cls


_ROUTES: dict[tuple[str, str], Route] = {(r.method, r.path): r for r in ROUTES}


def route_of(method: str, path: str) -> Route | None:
    """The route a request is for (the query string ignored), or None."""
    return _ROUTES.get((method, path.split("?", 1)[0]))


# -- the JSON view ------------------------------------------------------------------------------


def to_json(message: Message, tag: str | None) -> dict[str, Any]:
    """``message`` in the protobuf JSON mapping with .proto field names, ``tag`` as ``<T>``."""
    view = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return view if not tag else _retag(view, message.DESCRIPTOR, tag)


def _retag(view: dict[str, Any], descriptor: Any, tag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in view.items():
        fd = descriptor.fields_by_name.get(name)
        if fd is None:
            out[name] = value
        elif fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            out[name] = {
                k.replace(tag, TAG): _retag_value(v, value_fd, tag) for k, v in value.items()
            }
        elif isinstance(value, list):
            out[name] = [_retag_value(v, fd, tag) for v in value]
        else:
            out[name] = _retag_value(value, fd, tag)
    return out


def _retag_value(value: Any, fd: FieldDescriptor, tag: str) -> Any:
    if fd.message_type is not None:
        return _retag(value, fd.message_type, tag)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        raw = base64.b64decode(value).replace(tag.encode(), TAG.encode())
        return base64.b64encode(raw).decode("ascii")
    if isinstance(value, str):
        return value.replace(tag, TAG)
    return value


def _by_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _lrp_order(lrp: Mapping[str, Any]) -> tuple[Any, ...]:
    key, instance = lrp.get("actual_lrp_key", {}), lrp.get("actual_lrp_instance_key", {})
    return (
        key.get("process_guid", ""),
        key.get("index", 0),
        lrp.get("presence", "ORDINARY"),
        instance.get("instance_guid", ""),
        _by_json(lrp),
    )


_ORDER: dict[str, Any] = {
    "actual_lrps": _lrp_order,
    "actual_lrp_groups": lambda g: _lrp_order(g.get("instance") or g.get("evacuating") or {}),
    "desired_lrps": lambda d: (d.get("process_guid", ""), _by_json(d)),
    "desired_lrp_scheduling_infos": lambda s: (
        s.get("desired_lrp_key", {}).get("process_guid", ""),
        _by_json(s),
    ),
    "tasks": lambda t: (t.get("task_guid", ""), _by_json(t)),
    "domains": None,
}


@dataclass
class Normalizer:
    """The normalization state of one sequence: its tag (None: it has none), the cells its
    part lists, and the epoch labels given so far (``E1``, ``E2``... in order of appearance)."""

    tag: str | None
    cell_ids: frozenset[str]
    epochs: dict[str, str] = field(default_factory=dict)

    def answer(self, status: int, content_type: str, data: bytes, response: str | None) -> Any:
        """The normalized answer to one call."""
        answer: dict[str, Any] = {"status": status, "content_type": content_type}
        if status != 200 or response is None:
            answer["body"] = data[:300].decode("utf-8", "replace")
            return answer
        message = message_class(response)()
        try:
            message.ParseFromString(data)
        except DecodeError as exc:
            answer["undecodable"] = f"{exc} ({len(data)} bytes)"
            return answer
        body = to_json(message, self.tag)
        if self.tag:
            for name in ("actual_lrps", "tasks", "actual_lrp_groups"):
                if name in body:
                    body[name] = [x for x in body[name] if TAG in _by_json(x)]
            if "domains" in body:
                body["domains"] = [d for d in body["domains"] if TAG in d]
        if "cells" in body:
            body["cells"] = sorted(
                (c for c in body["cells"] if c.get("cell_id") in self.cell_ids),
                key=lambda c: c.get("cell_id", ""),
            )
        for name in OTHER_USERS_LISTS:
            if name in body and not body[name]:
                del body[name]
        for name, order in _ORDER.items():
            if name in body:
                body[name] = sorted(body[name], key=order)
        answer["body"] = self._walk(body, in_event=False)
        return answer

    def event(self, name: str, data: str) -> dict[str, Any] | None:
        """One SSE event (its name and base64 data) as ``{event, key, payload, score}``; None
        for an event of another sequence or of a type no BBS stream carries."""
        cls = EVENT_TYPES.get(name)
        if cls is None:
            return None
        message = cls()
        try:
            message.ParseFromString(base64.b64decode(data))
        except (DecodeError, ValueError) as exc:
            return {"event": name, "key": "?", "payload": {"undecodable": str(exc)}, "score": 0}
        payload = to_json(message, self.tag)
        key = event_key(name, payload)
        if self.tag and TAG not in key.split("/")[0]:
            return None
        return {
            "event": name,
            "key": key,
            "payload": self._walk(payload, in_event=True),
            "score": event_score(name, payload),
        }

    def _walk(self, value: Any, *, in_event: bool) -> Any:
        if isinstance(value, list):
            return [self._walk(x, in_event=in_event) for x in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for name in sorted(value):
            item = value[name]
            if name in DROPPED:
                continue
            if name in SET_OR_ZERO:
                out[name] = "<set>" if item and item != "0" else "<zero>"
            elif (
                name == "ports" and isinstance(item, list) and all(isinstance(p, int) for p in item)
            ):
                out[name] = sorted(item)
            elif name == "modification_tag" and isinstance(item, dict):
                epoch = item.get("epoch", "")
                if not epoch:
                    label = ""
                elif in_event:
                    label = "<epoch>"
                else:
                    label = self.epochs.setdefault(epoch, f"E{len(self.epochs) + 1}")
                out[name] = {"epoch": label, "index": item.get("index", 0)}
            else:
                out[name] = self._walk(item, in_event=in_event)
        return out


# -- events: what they are about, their score, the compared view -------------------------------


def _group_lrp(group: Mapping[str, Any]) -> Mapping[str, Any]:
    lrp: Mapping[str, Any] = (
        group["instance"] if "instance" in group else group.get("evacuating", {})
    )
    return lrp


def event_key(name: str, payload: Mapping[str, Any]) -> str:
    """``guid`` (desired LRP and task events) or ``guid/index`` (actual LRP events)."""
    if name == "desired_lrp_changed":
        after, before = payload.get("after", {}), payload.get("before", {})
        return str(after.get("process_guid") or before.get("process_guid", ""))
    if name.startswith("desired_lrp_"):
        return str(payload.get("desired_lrp", {}).get("process_guid", ""))
    if name == "task_changed":
        after, before = payload.get("after", {}), payload.get("before", {})
        return str(after.get("task_guid") or before.get("task_guid", ""))
    if name.startswith("task_"):
        return str(payload.get("task", {}).get("task_guid", ""))
    if name in ("actual_lrp_instance_created", "actual_lrp_instance_removed"):
        key = payload.get("actual_lrp", {}).get("actual_lrp_key", {})
    elif name in ("actual_lrp_instance_changed", "actual_lrp_crashed"):
        key = payload.get("actual_lrp_key", {})
    elif name == "actual_lrp_changed":
        after = _group_lrp(payload.get("after", {})).get("actual_lrp_key", {})
        before = _group_lrp(payload.get("before", {})).get("actual_lrp_key", {})
        guid = after.get("process_guid") or before.get("process_guid", "")
        key = {"process_guid": guid, "index": after.get("index", 0)}
    else:
        key = _group_lrp(payload.get("actual_lrp_group", {})).get("actual_lrp_key", {})
    return f"{key.get('process_guid', '')}/{key.get('index', 0)}"


def event_score(name: str, payload: Mapping[str, Any]) -> int:
    """Upstream's ``EventScore`` (``events/calculator``): a crash 2, an event whose resulting
    LRP is RUNNING 1, anything else 0."""
    if name == "actual_lrp_crashed":
        return 2
    if name == "actual_lrp_instance_changed":
        return int(payload.get("after", {}).get("state") == "RUNNING")
    lrp: Mapping[str, Any] = {}
    if name == "actual_lrp_created":
        lrp = _group_lrp(payload.get("actual_lrp_group", {}))
    elif name == "actual_lrp_changed":
        after = payload.get("after", {})
        if "instance" in after and "evacuating" in after:
            instance = after["instance"]
            lrp = (
                instance if instance.get("state") in ("RUNNING", "CRASHED") else after["evacuating"]
            )
        else:
            lrp = _group_lrp(after)
    elif name == "actual_lrp_instance_created":
        lrp = payload.get("actual_lrp", {})
    return int(lrp.get("state") == "RUNNING")


def event_label(event: Mapping[str, Any]) -> str:
    return f"{event['event']} {event['key']} {_by_json(event['payload'])}"


def event_view(events: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """What is compared of one stream's events after one call: per (family, key) the events
    in order, runs of equal score as sorted sets (upstream orders events by score only and
    emits from goroutines)."""
    families: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        name = str(event["event"])
        family = name.split("_", 1)[0] if not name.startswith("actual_") else "actual"
        families.setdefault(f"{family} {event['key']}", []).append(event)
    view: dict[str, list[str]] = {}
    for family, listed in families.items():
        out: list[str] = []
        run: list[Mapping[str, Any]] = []
        for event in listed:
            if run and run[-1]["score"] != event["score"]:
                out += sorted(event_label(x) for x in run)
                run = []
            run.append(event)
        view[family] = out + sorted(event_label(x) for x in run)
    return view


# -- outbound calls -----------------------------------------------------------------------------


def auction_entry(path: str, item: Any, tag: str | None) -> str:
    """One start request of an auctioneer call as compared: indices sorted, a null
    VolumeDrivers as ``[]`` (Go's auctioneer decodes both alike), the tag as ``<T>``."""
    if isinstance(item, dict):
        item = dict(item)
        if isinstance(item.get("indices"), list):
            item["indices"] = sorted(item["indices"])
        if "VolumeDrivers" in item and item["VolumeDrivers"] is None:
            item["VolumeDrivers"] = []
    text = json.dumps(item)
    if tag:
        text = text.replace(tag, TAG)
    return f"{path} {_by_json(json.loads(text))}"


def request_text(message_name: str | None, body: bytes, tag: str | None) -> str:
    """A request as one line of protobuf text, for a report."""
    if not message_name:
        return f"<{len(body)} bytes>" if body else "(no body)"
    message = message_class(message_name)()
    try:
        message.ParseFromString(body)
    except DecodeError:
        return f"<{len(body)} undecodable bytes>"
    text = text_format.MessageToString(message, as_one_line=True)
    if tag:
        text = text.replace(tag, TAG)
    return text if len(text) <= 1500 else text[:1500] + f"... ({len(text)} chars)"


def stream_body(stream: Mapping[str, Any], cell_ids: Sequence[str]) -> bytes | None:
    """The body a recorded stream was subscribed with: ``body`` (base64) as recorded, or for
    ``by_cell`` an ``EventsByCellId`` of the part's first cell."""
    if "body" in stream:
        return base64.b64decode(stream["body"])
    if stream.get("by_cell"):
        return models.EventsByCellId(cell_id=cell_ids[0]).SerializeToString()
    return None
