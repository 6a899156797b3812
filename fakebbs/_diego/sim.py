"""``Diego``: the simulated cells, reps and auctioneer around one fake, on its clock.

The simulation is off until a cell is added. Then every call the BBS makes to the auctioneer
or to a simulated cell's rep (recorded as ever in ``auctioneer_calls`` / ``rep_calls``) is
also received here, and what the auctioneer and reps do in answer becomes work due at a time
on the fake's clock: now, or later by the timings. Work due is run in order, one item at a
time, with a convergence pass every ``converge_every`` seconds of the clock:

* with ``auto`` on, right after the BBS call that caused it (before that call is answered),
  when the frozen clock is advanced (each item with the clock at its time), and, with the
  clock running, from a background thread as time passes;
* with ``auto`` off, when ``run_until_idle()`` is called.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import random
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

from fakebbs import models
from fakebbs._control.journal import Journal
from fakebbs._diego.auction import Auctioneer
from fakebbs._diego.cells import DEFAULT_ROOTFS_PROVIDERS, Cell, CellState
from fakebbs._diego.port import BBSPort
from fakebbs._diego.reps import Reps, TaskOutcome, Timings
from fakebbs._outbound.calls import OutboundCall
from fakebbs._rules.wire import NANOSECONDS_PER_SECOND
from fakebbs.clock import Clock

__all__ = ["Diego"]

DEFAULT_CONVERGE_EVERY = 30.0
"""diego-release's ``convergence.repeat_interval_in_seconds``."""

# The variant (RFC 4122) and version (4) bits of a random UUID, as ``uuid.UUID`` sets them.
_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID_SET = (0x8000 << 48) | (4 << 76)

_Item = tuple[int, int, Callable[[], None]]

YOUNG_COLLECTION_EVERY = 100_000
"""While the simulation works, the cyclic garbage collector looks at new objects after this
many allocations instead of Python's default 700 (``gc.set_threshold``'s first value)."""

_easing_lock = threading.Lock()
_easing = 0
_thresholds = (0, 0, 0)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector runs less often while work runs. With its default
    threshold it walked the containers and rows just written every few hundred allocations: a
    tenth of the time placing 100,000 instances, halved by this. Garbage is still freed at
    once by reference counts, and cycles every ``YOUNG_COLLECTION_EVERY`` allocations, so
    memory stays bounded however long the work. Overlapping uses (one per namespace's
    simulation) restore the thresholds once, when the last ends."""
    global _easing, _thresholds
    with _easing_lock:
        if _easing == 0:
            _thresholds = gc.get_threshold()
            gc.set_threshold(max(_thresholds[0], YOUNG_COLLECTION_EVERY), *_thresholds[1:])
        _easing += 1
    try:
        yield
    finally:
        with _easing_lock:
            _easing -= 1
            if _easing == 0:
                gc.set_threshold(*_thresholds)


class Diego:
    """Simulated cells, reps and auctioneer acting on one ``FakeBBS`` (``bbs.diego``).

    Add cells with ``add_cell``; turn ``auto`` on to have them act as changes happen (or call
    ``run_until_idle()``). They act on the fake only through its routes' own operations, so
    event streams, journals and snapshots see what a real Diego would show; their calls are
    journaled in ``calls``, apart from the test client's. Fault rules and holds reach them.
    ``seed`` orders equal placement scores and makes instance guids (deterministic either way).
    """

    def __init__(
        self,
        port: BBSPort,
        *,
        clock: Clock,
        converge: Callable[[], object],
        register: Callable[[models.CellPresence], None],
        unregister: Callable[[str], None],
        desired: Callable[[str], models.DesiredLRP | None],
        errors: list[BaseException],
    ) -> None:
        self.calls: Journal = port.journal
        """The calls the simulated reps and auctioneer made to the BBS, oldest first."""
        self.converge_every: float | None = DEFAULT_CONVERGE_EVERY
        """Seconds of the fake's clock between convergence passes (None: none)."""
        self._clock = clock
        self._converge = converge
        self._register = register
        self._errors = errors
        self._port = port
        self._desired = desired
        self._unregister = unregister
        self._qlock = threading.Lock()
        self._pump_lock = threading.RLock()
        self._local = threading.local()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._auto = False
        self._seed: int | None = None
        self._setup()
        clock.on_advance(self._clock_advanced)

    def _setup(self) -> None:
        self._queue: list[_Item] = []
        self._seq = itertools.count()
        self._rng = random.Random(self._seed if self._seed is not None else 0)
        self._cells: dict[str, Cell] = {}
        self._ranks = itertools.count()
        self._active = False
        self._next_converge: int | None = None
        self._converged_every: float | None = None
        self.auctioneer = Auctioneer(self._new_instance_guid)
        self.reps = Reps(
            self._port,
            self.auctioneer,
            self._cells,
            self._schedule,
            self._desired,
            self._unregister,
            self._kick,
        )

    # -- settings ------------------------------------------------------------------------------

    @property
    def auto(self) -> bool:
        """Act on every change as it happens (default off: ``run_until_idle()`` acts)."""
        return self._auto

    @auto.setter
    def auto(self, on: bool) -> None:
        self._auto = bool(on)
        if self._auto:
            self._pump()
            self._ensure_thread()
        else:
            self._kick()

    @property
    def seed(self) -> int | None:
        """The seed of the simulation's randomness: the order of cells with equal scores
        and the instance guids. Set it before adding cells."""
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        self._seed = value
        self._rng = random.Random(value if value is not None else 0)

    def timings(
        self, start: float | None = None, stop: float | None = None, task: float | None = None
    ) -> Timings:
        """Set the seconds on the fake's clock from placement to RUNNING (``start``), from a
        stop to the instance's removal (``stop``) and from a task's start to its completion
        (``task``); the ones not given stay. Returns the timings in force."""
        for name, value in (("start", start), ("stop", stop), ("task", task)):
            if value is not None and value < 0:
                raise ValueError(f"timing {name} must be >= 0 seconds, not {value}")
        with self._pump_lock:
            current = self.reps.timings
            self.reps.timings = replace(
                current,
                start=current.start if start is None else float(start),
                stop=current.stop if stop is None else float(stop),
                task=current.task if task is None else float(task),
            )
            return self.reps.timings

    def task_outcome(
        self,
        pattern: str | Callable[[str], bool],
        *,
        failed: bool = False,
        result: str = "",
        failure_reason: str = "",
    ) -> None:
        """How the tasks matching ``pattern`` (a guid, a glob, or a callable taking the guid)
        end: succeeded with ``result``, or failed with ``failure_reason`` ("exit status 1"
        if not given). The latest matching rule wins; without one a task succeeds with ""."""
        with self._pump_lock:
            self.reps.outcomes.insert(0, TaskOutcome(pattern, failed, result, failure_reason))

    # -- cells ---------------------------------------------------------------------------------

    def add_cell(
        self,
        cell_id: str,
        *,
        zone: str = "z1",
        memory_mb: int = 8192,
        disk_mb: int = 16384,
        containers: int = 250,
        max_pids: int = 1024,
        placement_tags: Iterable[str] = (),
        optional_placement_tags: Iterable[str] = (),
        rootfs_providers: Mapping[str, Sequence[str]] | None = None,
        volume_drivers: Iterable[str] = (),
    ) -> CellState:
        """Start a cell's rep: its presence is registered (``cells/list.r1`` shows it) and
        the auctioneer places work on it. ``rootfs_providers`` maps a root filesystem scheme
        to its stacks (an empty list takes any, as docker's). Returns its state."""
        if not cell_id:
            raise ValueError("a cell needs a cell_id")
        for name, value in (("memory_mb", memory_mb), ("disk_mb", disk_mb)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if containers <= 0:
            raise ValueError(f"containers must be positive, not {containers}")
        providers = DEFAULT_ROOTFS_PROVIDERS if rootfs_providers is None else rootfs_providers
        with self._acting():
            if cell_id in self._cells:
                raise ValueError(f"cell {cell_id!r} is already simulated")
            rank = next(self._ranks)
            cell = Cell(
                cell_id=cell_id,
                zone=zone,
                memory_mb=memory_mb,
                disk_mb=disk_mb,
                containers=containers,
                max_pids=max_pids,
                placement_tags=frozenset(placement_tags),
                optional_placement_tags=frozenset(optional_placement_tags),
                rootfs_providers={k: frozenset(v) for k, v in providers.items()},
                volume_drivers=frozenset(volume_drivers),
                rank=self._rng.random() if self._seed is not None else rank,
                number=rank,
                address=f"10.0.{rank // 250}.{rank % 250 + 2}",
            )
            if not self._active:
                self._active = True
                self._next_converge = None
            self._cells[cell_id] = cell
            self.auctioneer.add(cell)
            self._register(cell.presence())
            self.reps.capacity_freed()
            state = cell.state()
        self._after_change()
        self._ensure_thread()
        return state

    def remove_cell(self, cell_id: str) -> None:
        """The cell vanishes (its rep dies): its presence goes and what ran there is gone;
        the BBS's convergence decides what follows."""
        with self._acting():
            self.reps.leave(self._cell(cell_id))
        self._after_change()

    def evacuate_cell(self, cell_id: str) -> None:
        """The cell's rep evacuates (see ``fakebbs._diego.reps``): replacements are placed
        elsewhere and its instances go as they come up; then the cell leaves."""
        with self._acting():
            self.reps.evacuate(self._cell(cell_id))
        self._after_change()

    def crash(self, process_guid: str, index: int, *, reason: str = "") -> None:
        """The instance's process exits: its cell's rep reports the crash
        (``CrashActualLRP``), and the BBS's restart policy decides what follows."""
        with self._acting():
            if not self.reps.crash(process_guid, index, reason):
                raise LookupError(
                    f"no simulated cell holds a claimed or running instance {index} of "
                    f"{process_guid!r}"
                )
        self._after_change()

    def cells(self) -> list[CellState]:
        """What the auctioneer and the reps know of each cell, in the order added."""
        with self._pump_lock:
            return [cell.state() for cell in self._cells.values()]

    def _cell(self, cell_id: str) -> Cell:
        cell = self._cells.get(cell_id)
        if cell is None:
            raise LookupError(f"no simulated cell {cell_id!r}")
        return cell

    # -- running -------------------------------------------------------------------------------

    def run_until_idle(self) -> None:
        """Do everything that is due now (placements, claims, starts, stops, task runs and
        any convergence pass due), including what that leads to, then return. Calls held by
        a hold of the fixture API that has been released are waited for; those still held
        are not."""
        with self._pump_lock:
            self.reps.settle()
        self._pump()

    def reset(self) -> None:
        """No cells, nothing due, default settings (``FakeBBS.reset``)."""
        self._auto = False
        self._kick()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._pump_lock:
            self.converge_every = DEFAULT_CONVERGE_EVERY
            self._seed = None
            self._setup()
            self.calls.clear()

    def receive(self, call: OutboundCall) -> None:
        """A call the BBS made, that neither a fault rule nor a real rep or auctioneer took."""
        if not self._active:
            return
        if call.target == "rep" and call.cell_id not in self._cells:
            return
        self._schedule(0.0, lambda: self.reps.receive(call))
        if self._auto:
            self._pump()

    @contextlib.contextmanager
    def _acting(self) -> Iterator[None]:
        """Act for the test (as one work item): what the BBS asks meanwhile waits its turn."""
        with self._pump_lock:
            pumping = getattr(self._local, "pumping", False)
            self._local.pumping = True
            try:
                yield
            finally:
                self._local.pumping = pumping

    def _after_change(self) -> None:
        if self._auto:
            self._pump()

    def _new_instance_guid(self) -> str:
        """``str(uuid.UUID(int=<128 random bits>, version=4))``, formatted here: the same text
        for the same seed, without building a UUID per instance."""
        n = (self._rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _schedule(self, delay: float, work: Callable[[], None]) -> None:
        due = self._clock() + round(delay * NANOSECONDS_PER_SECOND)
        with self._qlock:
            heapq.heappush(self._queue, (due, next(self._seq), work))
        if delay > 0:
            self._kick()

    def _kick(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def _converge_due(self) -> int | None:
        every = self.converge_every
        if every is None or not self._active:
            return None
        if self._next_converge is None or self._converged_every != every:
            self._converged_every = every
            self._next_converge = self._clock() + round(every * NANOSECONDS_PER_SECOND)
        return self._next_converge

    def _next_due(self) -> int | None:
        with self._qlock:
            head = self._queue[0][0] if self._queue else None
        converge = self._converge_due()
        if head is None:
            return converge
        return head if converge is None else min(head, converge)

    def _pump(self, limit: int | None = None, *, step: bool = False) -> None:
        """Run the work due by ``limit`` (default: now), in order; with ``step`` the frozen
        clock is moved to each item's time first. Work scheduled meanwhile runs too."""
        if getattr(self._local, "pumping", False):
            return
        with self._pump_lock:
            self._local.pumping = True
            try:
                with _fewer_collections():
                    self.reps.clear_cache()
                    self._run(limit, step)
            finally:
                self._local.pumping = False

    def _run(self, limit: int | None, step: bool) -> None:
        while True:
            bound = self._clock() if limit is None else limit
            with self._qlock:
                head = self._queue[0] if self._queue else None
            converge = self._converge_due()
            if converge is not None and converge <= bound and (head is None or converge < head[0]):
                if step and converge > self._clock():
                    self._clock.freeze(at=converge)
                every = self.converge_every or DEFAULT_CONVERGE_EVERY
                self._next_converge = converge + round(every * NANOSECONDS_PER_SECOND)
                self._do(self._converge)
                self._do(self.reps.poll_evacuations)
                continue
            if head is None or head[0] > bound:
                return
            due = head[0]
            if step and due > self._clock():
                self._clock.freeze(at=due)
            # Everything due at that very time, in order: what it schedules comes after.
            with self._qlock:
                batch = []
                while self._queue and self._queue[0][0] == due:
                    batch.append(heapq.heappop(self._queue)[2])
            for work in batch:
                self._do(work)

    def _do(self, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - a bug in the simulation: kept for check()
            self._errors.append(exc)

    def _clock_advanced(self, before: int, after: int) -> None:
        """The fake's clock was advanced: with ``auto``, run what fell due meanwhile."""
        if not (self._auto and self._active) or getattr(self._local, "pumping", False):
            return
        if not self._clock.frozen:
            self._kick()
            return
        due = self._next_due()
        if due is None or due > after:
            return
        with self._pump_lock:
            try:
                self._clock.freeze(at=before)
                self._pump(after, step=True)
            finally:
                self._clock.freeze(at=after)

    # -- the background thread (auto on, clock running) ----------------------------------------

    def _ensure_thread(self) -> None:
        if not (self._auto and self._active):
            return
        with self._wake:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=_background, args=(weakref.ref(self),), name="fakebbs-diego", daemon=True
            )
            self._thread.start()

    def _next_wait(self) -> float | None:
        """Seconds the background thread may wait for work (at most one); None: end it."""
        if not (self._auto and self._active):
            return None
        due = self._next_due()
        if due is None or self._clock.frozen:
            return 1.0
        return min(max((due - self._clock()) / NANOSECONDS_PER_SECOND, 0.0), 1.0)


def _background(ref: weakref.ReferenceType[Diego]) -> None:
    """The background thread: runs work as the clock passes its time. It holds its Diego
    only weakly (never while it waits), so a fake nobody uses any more takes it along."""
    while True:
        diego = ref()
        if diego is None:
            return
        wake, timeout = diego._wake, diego._next_wait()
        del diego
        if timeout is None:
            return
        if timeout > 0:
            with wake:
                wake.wait(timeout)
        diego = ref()
        if diego is None:
            return
        if diego._auto and diego._active and not diego._clock.frozen:
            diego._pump()
        del diego
