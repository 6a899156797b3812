"""Replaying a recording of a BBS against a fake, step by step, and saying what differs.

``Replayer`` sends each recorded request to a fake (one it started and serves itself, or one
``fakebbs serve`` serves at a URL), normalizes the answer and the events of the open streams
as the recording was normalized (``fakebbs._fidelity.recording``), and compares. With a fake of its
own it also compares the calls the fake made to reps and to the auctioneer (its journals),
per step; the recorded ones may sit one step late, as the real BBS makes them from
goroutines. Each sequence starts from an empty fake with the recording's cells registered
(through the admin API for a served fake).

Events: after each call the replayer reads each stream until it has as many of the
sequence's events as were recorded, so a fake that answers right is never waited for; at the
end of a sequence the streams are ended (a fake of its own) or given a moment (a served one)
and what is left over counts as the last step's. An extra event that is still on its way when
a step's count is reached is reported at the next step. Like the calls to reps and the
auctioneer, an event the recording holds one step late (the real BBS emits events from
goroutines, and a recording proxy records an event when it arrives) matches the fake's at the
step before.

``fakebbs replay`` and the project's own tests both use this module; what counts as a
difference is in ``differences``, the HTTP calls and stream readers in ``replay_transport``.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from fakebbs import models
from fakebbs._fidelity.differences import (
    Difference,
    answer_kind,
    diff_paths,
    event_details,
    match_late,
    recorded_late,
)
from fakebbs._fidelity.recording import (
    Normalizer,
    auction_entry,
    event_view,
    new_tag,
    request_text,
    stream_body,
)
from fakebbs._fidelity.replay_transport import Connection, Stream

if TYPE_CHECKING:
    from fakebbs._fake import FakeBBS
    from fakebbs._http.server import Server

__all__ = ["Difference", "Replayer", "diff_paths", "match_late", "sequence_ids"]

EVENT_WAIT = 2.0
"""Seconds to wait for a step's recorded number of events; only a fake that emits fewer than
the real BBS did waits this long."""
SERVED_SETTLE = 0.2
"""Seconds a served fake's streams are given at the end of a sequence for late events."""
OUTBOUND_WAIT = 5.0


# -- the replayer ---------------------------------------------------------------------------


@dataclass
class _Run:
    """One sequence being replayed."""

    number: int
    sequence: Mapping[str, Any]
    tag: str | None
    normalizer: Normalizer
    streams: dict[str, Stream] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    rep_calls: list[list[str]] = field(default_factory=list)
    auction_calls: list[list[str]] = field(default_factory=list)
    seen: tuple[int, int] = (0, 0)
    carried: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.number} [{self.sequence.get('name', '')}]"


class Replayer:
    """Replays the sequences of ``recording`` against a fake: ``fake``, which it serves on a
    free port of 127.0.0.1 (and then compares rep and auctioneer calls too), or the one served
    at ``url`` (``fakebbs serve``: its admin API resets it and registers the cells). Close it
    (or use it as a context manager) to stop serving."""

    def __init__(
        self,
        recording: Mapping[str, Any],
        *,
        fake: FakeBBS | None = None,
        url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if (fake is None) == (url is None):
            raise ValueError("replay against a fake or a url, one of them")
        self.recording = recording
        self.fake = fake
        self._server: Server | None = None
        if fake is not None:
            self._server = fake.serve()
            url = self._server.url
        assert url is not None
        self.url = url
        self._connection = Connection(url, ssl_context)
        self._cells = [
            json_format.ParseDict(c, models.CellPresence(), ignore_unknown_fields=True)
            for c in recording.get("cell_presences", [])
        ]

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._connection.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def compares_outbound(self) -> bool:
        """Whether rep and auctioneer calls are compared (only with a fake of its own)."""
        return self.fake is not None

    def replay(self, number: int) -> list[Difference]:
        """Replay sequence ``number`` from an empty fake; every difference, in order."""
        sequence = self.recording["sequences"][number]
        recorded_tag = sequence.get("tag")
        part = self.recording.get("parts", {}).get(sequence.get("part")) or {}
        cell_ids = part.get("cell_ids", self.recording.get("cell_ids", []))
        tag = new_tag() if recorded_tag else None
        run = _Run(number, sequence, recorded_tag, Normalizer(tag, frozenset(cell_ids)))
        self._start_empty()
        stream_names = part.get("streams", list(self.recording.get("streams", {})))
        try:
            steps = sequence["steps"]
            for n, step in enumerate(steps):
                self._open_streams(run, stream_names, cell_ids, n)
                following = steps[n + 1].get("events", {}) if n + 1 < len(steps) else {}
                if not self._step(run, n, step, tag, following):
                    break
            self._end(run, len(steps) - 1)
        finally:
            for stream in run.streams.values():
                stream.close()
        self._compare_outbound(run)
        if self.fake is not None:
            self.fake.check()
        return run.differences

    # -- one sequence -----------------------------------------------------------------------------

    def _start_empty(self) -> None:
        if self.fake is not None:
            self.fake.reset()
            for cell in self._cells:
                self.fake.seed.cell(cell)
            return
        status, _, data = self._connection.call(
            "POST", "/fakebbs/v1/reset", b"{}", "application/json"
        )
        if status != 200:
            raise RuntimeError(
                f"{self.url} did not reset through its admin API (/fakebbs/v1/reset: "
                f"{status or data!r}): replay against a fresh 'fakebbs serve'"
            )
        for cell in self._cells:
            body = json.dumps(json_format.MessageToDict(cell, preserving_proto_field_name=True))
            status, _, data = self._connection.call(
                "POST", "/fakebbs/v1/cells", body.encode(), "application/json"
            )
            if status != 200:
                raise RuntimeError(f"{self.url} refused the cell {cell.cell_id}: {data[:200]!r}")

    def _open_streams(
        self, run: _Run, names: Sequence[str], cell_ids: Sequence[str], step: int
    ) -> None:
        for name in names:
            spec = self.recording["streams"][name]
            if name in run.streams and spec.get("closed_at") == step:
                run.streams.pop(name).close()
            if name in run.streams or spec.get("opened_at", 0) != step:
                continue
            body = stream_body(spec, cell_ids)
            if body is not None and run.tag:
                body = body.replace(run.tag.encode(), (run.normalizer.tag or "").encode())
            run.streams[name] = Stream(self._connection, spec["method"], spec["path"], body)

    def _step(
        self,
        run: _Run,
        n: int,
        step: Mapping[str, Any],
        tag: str | None,
        following: Mapping[str, Any],
    ) -> bool:
        """Send one step's request and compare; ``following`` holds the next step's recorded
        events (an event recorded there may be this step's, recorded late)."""
        body = base64.b64decode(step.get("request") or "")
        if run.tag and tag:
            body = body.replace(run.tag.encode(), tag.encode())
        status, content_type, data = self._connection.call(
            step["method"], step["path"], body or None
        )
        self._take_outbound(run)
        got = run.normalizer.answer(status, content_type, data, step.get("response_message"))
        call = step.get("call") or f"{step['method']} {step['path']}"

        def request() -> str:  # only for a difference: the text costs as much as the call
            message = step.get("request_message")
            text = request_text(message, body, tag)
            return f"{step['method']} {step['path']}  {message or '(no body)'}: {text}"

        def differ(what: str, kind: str, details: Sequence[str]) -> None:
            run.differences.append(
                Difference(run.name, n, call, what, kind, tuple(details), request())
            )

        want = step.get("answer")
        if want is not None and got != want:
            differ("answer", answer_kind(want, got), diff_paths(want, got))
        recorded = step.get("events", {})
        for name, stream in run.streams.items():
            wanted = recorded.get(name, [])
            gotten = run.carried.pop(name, [])
            count = max(0, len(wanted) - len(gotten))
            gotten += self._events(run, stream, count, time.monotonic() + EVENT_WAIT)
            if stream.error:
                differ(f"events {name}", f"stream answered {stream.error}", [])
            elif event_view(wanted) != event_view(gotten):
                late = recorded_late(wanted, gotten, following.get(name, []))
                if late is None:
                    differ(f"events {name}", *event_details(wanted, gotten))
                else:
                    run.carried[name] = late
        return status != 0

    def _events(
        self, run: _Run, stream: Stream, count: int, deadline: float
    ) -> list[dict[str, Any]]:
        """This sequence's events from ``stream``: until ``count`` came (or ``deadline``), then
        those already there."""
        got: list[dict[str, Any]] = []
        while len(got) < count:
            frame = stream.next(deadline - time.monotonic())
            if frame is None:
                break
            event = run.normalizer.event(*frame)
            if event is not None:
                got.append(event)
        while (frame := stream.next(0)) is not None:
            event = run.normalizer.event(*frame)
            if event is not None:
                got.append(event)
        return got

    def _end(self, run: _Run, last: int) -> None:
        """Leftover events count as the last step's."""
        if self.fake is not None:
            self.fake._events.end_streams()
            wait = EVENT_WAIT
        else:
            time.sleep(SERVED_SETTLE)
            wait = 0.0
        for name, stream in run.streams.items():
            extra = []
            deadline = time.monotonic() + wait
            while (frame := stream.next(deadline - time.monotonic())) is not None:
                event = run.normalizer.event(*frame)
                if event is not None:
                    extra.append(event)
            if extra:
                step = run.sequence["steps"][last] if last >= 0 else {}
                run.differences.append(
                    Difference(
                        run.name,
                        last,
                        step.get("call", ""),
                        f"events {name}",
                        "extra, after the step",
                        tuple(event_details([], extra)[1]),
                    )
                )

    # -- rep and auctioneer calls ----------------------------------------------------------------

    def _take_outbound(self, run: _Run) -> None:
        """The calls the fake made to reps and the auctioneer during the last step."""
        if self.fake is None:
            return
        self.fake.wait_for_outbound(OUTBOUND_WAIT)
        tag = run.normalizer.tag
        reps, auctions = list(self.fake.rep_calls), list(self.fake.auctioneer_calls)
        seen_reps, seen_auctions = run.seen
        run.seen = (len(reps), len(auctions))
        step_reps = []
        for c in reps[seen_reps:]:
            if tag and tag not in c.path + c.body:
                continue
            text = f"{c.method} {c.path} {c.body[:200]}"
            step_reps.append(text.replace(tag, "<T>") if tag else text)
        step_auctions = []
        for c in auctions[seen_auctions:]:
            try:
                items = json.loads(c.body or "null")
            except ValueError:
                items = c.body
            for item in items if isinstance(items, list) else [items]:
                if not tag or tag in json.dumps(item):
                    step_auctions.append(auction_entry(c.path, item, tag))
        run.rep_calls.append(step_reps)
        run.auction_calls.append(step_auctions)

    def _compare_outbound(self, run: _Run) -> None:
        if self.fake is None:
            return
        steps = run.sequence["steps"]
        compared: list[tuple[str, list[list[str]], list[list[str]]]] = []
        if "rep_calls" in run.sequence:
            want: list[list[str]] = [[] for _ in range(len(steps) + 1)]
            for c in run.sequence["rep_calls"]:
                want[min(c.get("step", 0), len(steps))].append(
                    f"{c['method']} {c['path']} {c['body']}"
                )
            compared.append(("rep calls", want, run.rep_calls))
        if any("auction_calls" in step for step in steps):
            want = [
                [
                    f"{c['path']} {json.dumps(c['body'], sort_keys=True)}"
                    for c in step.get("auction_calls", [])
                ]
                for step in steps
            ]
            compared.append(("auctioneer calls", want + [[]], run.auction_calls))
        for what, want, got in compared:
            for n, missing, extra in match_late(want, got):
                at = min(n, len(steps) - 1)
                details = [f"missing: {c}" for c in missing] + [f"extra:   {c}" for c in extra]
                run.differences.append(
                    Difference(
                        run.name,
                        at,
                        steps[at].get("call", ""),
                        what,
                        "calls (a recorded call may land one step late)",
                        tuple(details),
                    )
                )


def sequence_ids(recording: Mapping[str, Any]) -> Iterator[str]:
    """A short id per sequence, for test ids and reports: its number and name."""
    for number, sequence in enumerate(recording["sequences"]):
        name = "".join(ch if ch.isalnum() else "-" for ch in str(sequence.get("name", "")))
        yield f"{number}-{name.strip('-')}"
