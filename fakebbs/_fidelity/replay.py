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

``fakebbs replay`` and the project's own tests both use this module.
"""

from __future__ import annotations

import base64
import http.client
import json
import queue
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from fakebbs import models
from fakebbs._fidelity.recording import (
    Normalizer,
    auction_entry,
    event_label,
    event_view,
    new_tag,
    request_text,
    stream_body,
)

if TYPE_CHECKING:
    from fakebbs._fake import FakeBBS
    from fakebbs._http.server import Server

__all__ = ["Difference", "Replayer", "diff_paths"]

PROTOBUF = "application/x-protobuf"
EVENT_WAIT = 2.0
"""Seconds to wait for a step's recorded number of events; only a fake that emits fewer than
the real BBS did waits this long."""
SERVED_SETTLE = 0.2
"""Seconds a served fake's streams are given at the end of a sequence for late events."""
OUTBOUND_WAIT = 5.0


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


def _answer_kind(want: Mapping[str, Any], got: Mapping[str, Any]) -> str:
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


def _event_details(
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


def _recorded_late(
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


# -- transport ------------------------------------------------------------------------------------


class _Connection:
    """Keep-alive HTTP(S) connections to the fake."""

    def __init__(self, url: str, ssl_context: ssl.SSLContext | None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.context = ssl_context
        if self.https and self.context is None:
            self.context = ssl.create_default_context()
        self._conn: http.client.HTTPConnection | None = None

    def open(self, timeout: float | None = 30) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=self.context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(
        self, method: str, path: str, body: bytes | None, content_type: str = PROTOBUF
    ) -> tuple[int, str, bytes]:
        """One request: (status, content type, body); status 0 when it failed twice."""
        headers = {"Content-Type": content_type, "Accept": PROTOBUF}
        error = ""
        for _ in range(2):
            try:
                if self._conn is None:
                    self._conn = self.open()
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                return response.status, response.getheader("Content-Type", ""), response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                error = f"{type(exc).__name__}: {exc}"
        return 0, error, b""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_END = ("", "")


class _Stream:
    """One event stream subscription, read by a thread into a queue of (event name, data)."""

    def __init__(self, connection: _Connection, method: str, path: str, body: bytes | None) -> None:
        self._conn = connection.open(timeout=None)
        headers = {"Accept": "text/event-stream"}
        self._conn.request(
            method, path, body=body if body or method == "GET" else b"", headers=headers
        )
        self._response = self._conn.getresponse()
        self.error = "" if self._response.status == 200 else f"HTTP {self._response.status}"
        self.ended = False
        self._frames: queue.Queue[tuple[str, str]] = queue.Queue()
        threading.Thread(target=self._read, name="fakebbs-replay-stream", daemon=True).start()

    def _read(self) -> None:
        name, data = "", list[str]()
        try:
            while not self.error:
                raw = self._response.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data:
                        self._frames.put((name or "message", "".join(data)))
                    name, data = "", []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed under the reader: the sequence is over
        finally:
            self._frames.put(_END)

    def next(self, timeout: float) -> tuple[str, str] | None:
        """The next frame; None when none came in time or the stream has ended."""
        if self.ended:
            return None
        try:
            frame = self._frames.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if frame == _END:
            self.ended = True
            return None
        return frame

    def close(self) -> None:
        try:
            if self._conn.sock is not None:
                self._conn.sock.shutdown(2)
        except OSError:
            pass
        self._conn.close()


# -- the replayer ---------------------------------------------------------------------------


@dataclass
class _Run:
    """One sequence being replayed."""

    number: int
    sequence: Mapping[str, Any]
    tag: str | None
    normalizer: Normalizer
    streams: dict[str, _Stream] = field(default_factory=dict)
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
        self._connection = _Connection(url, ssl_context)
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
            run.streams[name] = _Stream(self._connection, spec["method"], spec["path"], body)

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
            differ("answer", _answer_kind(want, got), diff_paths(want, got))
        recorded = step.get("events", {})
        for name, stream in run.streams.items():
            wanted = recorded.get(name, [])
            gotten = run.carried.pop(name, [])
            count = max(0, len(wanted) - len(gotten))
            gotten += self._events(run, stream, count, time.monotonic() + EVENT_WAIT)
            if stream.error:
                differ(f"events {name}", f"stream answered {stream.error}", [])
            elif event_view(wanted) != event_view(gotten):
                late = _recorded_late(wanted, gotten, following.get(name, []))
                if late is None:
                    differ(f"events {name}", *_event_details(wanted, gotten))
                else:
                    run.carried[name] = late
        return status != 0

    def _events(
        self, run: _Run, stream: _Stream, count: int, deadline: float
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
                        tuple(_event_details([], extra)[1]),
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
