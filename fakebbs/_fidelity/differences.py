"""What differs between a recording and a replay: ``Difference`` records, the paths at which two
JSON views differ, and the matching of what the real BBS did one step late (events and the
calls to reps and the auctioneer come from goroutines there)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fakebbs._fidelity.recording import event_label, event_view

__all__ = [
    "Difference",
    "answer_kind",
    "diff_paths",
    "event_details",
    "match_late",
    "recorded_late",
]


@dataclass(frozen=True)
class Difference:
    """One place where the fake did not answer, emit or call as the recording says."""

    sequence: str
    step: int
    call: str
    what: str
    kind: str
    details: tuple[str, ...] = ()
    request: str = ""

    def report(self, *, limit: int = 40) -> str:
        """The difference for a person: where, the request, and expected / got per field."""
        lines = [f"sequence {self.sequence} step {self.step}: {self.call}"]
        if self.request:
            lines.append(f"   {self.request}")
        lines.append(f"   {self.what} differs: {self.kind}")
        lines += [f"      {line}" for line in self.details[:limit]]
        if len(self.details) > limit:
            lines.append(f"      ... {len(self.details) - limit} more")
        return "\n".join(lines)


def diff_paths(want: Any, got: Any, path: str = "") -> list[str]:
    """``path: expected X / got Y`` for every leaf where ``want`` and ``got`` differ."""
    if isinstance(want, dict) and isinstance(got, dict):
        return [
            line
            for key in sorted(set(want) | set(got))
            for line in diff_paths(
                want.get(key, "<absent>"), got.get(key, "<absent>"), f"{path}.{key}"
            )
        ]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            line
            for i, (w, g) in enumerate(zip(want, got, strict=True))
            for line in diff_paths(w, g, f"{path}[{i}]")
        ]
    if want == got:
        return []
    return [f"{path or '.'}: expected {_short(want)} / got {_short(got)}"]


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"


def answer_kind(want: Mapping[str, Any], got: Mapping[str, Any]) -> str:
    if want.get("status") != got.get("status"):
        return f"status {want.get('status')} / {got.get('status')}"

    def error(answer: Mapping[str, Any]) -> str:
        body = answer.get("body")
        if isinstance(body, dict) and "error" in body:
            return str(body["error"].get("type", "UnknownError"))
        return "OK"

    if error(want) != error(got):
        return f"error {error(want)} / {error(got)}"
    fields = sorted({line.split(":")[0].split("[")[0] for line in diff_paths(want, got)})
    return "fields " + ",".join(fields[:5]) + (",..." if len(fields) > 5 else "")


def event_details(
    want: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]]
) -> tuple[str, list[str]]:
    wanted, gotten = Counter(map(event_label, want)), Counter(map(event_label, got))
    names_w = Counter(str(e["event"]) for e in want)
    names_g = Counter(str(e["event"]) for e in got)
    if names_w != names_g:
        kind = ",".join(
            [f"-{n}" for n in sorted(names_w - names_g)]
            + [f"+{n}" for n in sorted(names_g - names_w)]
        )
    elif wanted != gotten:
        kind = "payload"
    else:
        kind = "order"
    lines = []
    for event in want:
        if wanted[event_label(event)] <= gotten[event_label(event)]:
            continue
        same = [g for g in got if (g["event"], g["key"]) == (event["event"], event["key"])]
        for other in same[:1]:
            lines += [
                f"{event['event']} {event['key']}{x}"
                for x in diff_paths(event["payload"], other["payload"])
            ]
    lines.append("expected: " + " ".join(f"{e['event']}({e['key']})" for e in want))
    lines.append("got:      " + " ".join(f"{e['event']}({e['key']})" for e in got))
    lines += [f"missing {_short(x, 600)}" for x in sorted((wanted - gotten).elements())]
    lines += [f"extra   {_short(x, 600)}" for x in sorted((gotten - wanted).elements())]
    return kind, lines


def recorded_late(
    wanted: Sequence[Mapping[str, Any]],
    gotten: Sequence[dict[str, Any]],
    following: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]] | None:
    """The fake's events of a step that the recording holds one step late (the real BBS emits
    from goroutines; a proxy records an event when it arrives), to be compared with the next
    step's; None when that does not explain the difference."""
    left = Counter(map(event_label, wanted))
    on_time, late = [], []
    for event in gotten:
        label = event_label(event)
        if left[label] > 0:
            left[label] -= 1
            on_time.append(event)
        else:
            late.append(event)
    later = Counter(map(event_label, following))
    if not late or event_view(wanted) != event_view(on_time):
        return None
    if Counter(map(event_label, late)) - later:
        return None
    return late


def match_late(
    want: Sequence[Sequence[str]], got: Sequence[Sequence[str]]
) -> list[tuple[int, list[str], list[str]]]:
    """Calls recorded (``want[n]``) and made by the fake (``got[n]``) per step: a recorded call
    matches one the fake made at the same step or the step before. ``[(step, missing,
    extra)]`` where something did not match."""
    out: dict[int, tuple[list[str], list[str]]] = {}
    pending: Counter[str] = Counter()
    steps = max(len(want), len(got))
    for n in range(steps):
        w = Counter(want[n] if n < len(want) else [])
        g = Counter(got[n] if n < len(got) else [])
        late = w & pending
        w, pending = w - late, pending - late
        same = w & g
        w, g = w - same, g - same
        if pending:
            out.setdefault(n - 1, ([], []))[1].extend(sorted(pending.elements()))
        if w:
            out.setdefault(n, ([], []))[0].extend(sorted(w.elements()))
        pending = g
    if pending:
        out.setdefault(steps - 1, ([], []))[1].extend(sorted(pending.elements()))
    return [(n, missing, extra) for n, (missing, extra) in sorted(out.items())]
