"""The storage layer's own rules: truncated texts, the order rows are kept in, and every write
a recorded change."""

from __future__ import annotations

from builders import desired_lrp
from fakebbs import FakeBBS, models
from fakebbs._http.events import Event
from fakebbs._rules.state import State
from fakebbs._rules.store import (
    EVACUATING,
    ORDINARY,
    ActualKey,
    Change,
    Domain,
    Snapshot,
    Store,
    row_changes,
    truncate_text,
)


def test_truncate_keeps_texts_shorter_than_the_limit() -> None:
    assert truncate_text("a" * 1023) == "a" * 1023


def test_truncation_counts_bytes_and_never_splits_a_character() -> None:
    text = "é" * 600  # 1200 bytes; byte 1013 falls inside a character

    cut = truncate_text(text)

    assert cut == "é" * 506 + "(truncated)"
    assert len(cut.encode()) == 1023


def recorded(store: Store) -> list[Change]:
    changes: list[Change] = []
    store.listeners.append(changes.extend)
    return changes


def test_a_domain_upsert_is_a_recorded_change_that_emits_nothing() -> None:
    state = State(Store(clock=lambda: 5 * 10**9))
    changes = recorded(state.store)

    state.upsert_domain("cf-apps", 10)
    state.upsert_domain("cf-apps", 0)

    assert [(c.kind, c.before, c.after, c.emit) for c in changes] == [
        ("domain", None, Domain("cf-apps", 15 * 10**9), "none"),
        ("domain", Domain("cf-apps", 15 * 10**9), Domain("cf-apps", None), "none"),
    ]


def test_registering_and_unregistering_a_cell_are_recorded_changes() -> None:
    state = State(Store())
    changes = recorded(state.store)
    presence = models.CellPresence(cell_id="cell-1", zone="z1")

    state.register_cell(presence)
    state.unregister_cell("cell-1")
    state.unregister_cell("never-registered")

    assert [(c.kind, c.before, c.after, c.emit) for c in changes] == [
        ("cell", None, presence, "none"),
        ("cell", presence, None, "none"),
    ]


def test_convergence_pruning_a_domain_is_a_recorded_change() -> None:
    now = [0]
    state = State(Store(clock=lambda: now[0]))
    state.upsert_domain("short", 5)
    changes = recorded(state.store)
    now[0] = 6 * 10**9

    state.converge_lrps()

    assert [(c.kind, c.before, c.after) for c in changes] == [
        ("domain", Domain("short", 5 * 10**9), None)
    ]


def test_reset_is_one_recorded_restore_to_an_empty_state_that_emits_nothing() -> None:
    state = State(Store())
    state.desire_lrp(desired_lrp("web", instances=1))
    changes = recorded(state.store)

    state.store.reset()

    [change] = changes
    assert (change.kind, change.emit) == ("restore", "none")
    assert isinstance(change.before, Snapshot) and isinstance(change.after, Snapshot)
    assert list(change.before.desired_lrps) == ["web"]
    assert [(c.kind, c.after) for c in row_changes(changes)] == [
        ("desired_lrp", None),
        ("actual_lrp", None),
    ]


def test_a_reset_reaches_no_event_stream() -> None:
    fake = FakeBBS()
    fake.client().desire_lrp(desired_lrp("web", instances=1))
    subscription = fake._events.subscribe({"desired", "actual", "instance", "task"})

    fake.reset()

    assert subscription.get(0) is None


def test_a_restore_expands_into_one_change_per_row_that_differs() -> None:
    store = Store()
    with store.operation() as op:
        op.put_desired(desired_lrp("kept"))
        op.put_desired(desired_lrp("gone"))
    snap = store.snapshot()
    with store.operation() as op:
        op.delete_desired("gone")
        op.put_desired(desired_lrp("new"))
    changes = recorded(store)

    store.restore(snap)

    assert [(c.kind, c.before is None, c.after is None) for c in row_changes(changes)] == [
        ("desired_lrp", False, True),  # "new" goes
        ("desired_lrp", True, False),  # "gone" comes back
    ]


def test_the_fake_wires_each_listener_of_its_store_once_and_the_app_to_the_same_parts() -> None:
    fake = FakeBBS()
    store = fake._state.store

    assert store.listeners == [
        fake._callbacks.on_changes,
        fake._events.publish,
        fake._lists.forget,
    ]
    assert (fake.wsgi_app.state, fake.wsgi_app.events, fake.wsgi_app.lists) == (
        fake._state,
        fake._events,
        fake._lists,
    )
    assert fake._callbacks.target is fake._state.tasks
    assert store.dispatcher == fake._outbound.dispatch


def test_the_fake_owns_the_hub_its_streams_subscribe_to() -> None:
    fake = FakeBBS()
    subscription = fake._events.subscribe({"desired"})

    fake.seed.desired_lrp("web", instances=0)

    event = subscription.get(0)
    assert isinstance(event, Event) and event.name == "desired_lrp_created"


def test_actual_lrps_are_kept_last_written_last() -> None:
    """Postgres returns rows without ORDER BY in the order they were last written."""
    store = Store()
    first = store.new_actual_lrp("web", 0, "cf-apps")
    second = store.new_actual_lrp("web", 1, "cf-apps")
    with store.operation() as op:
        op.put_actual(first)
        op.put_actual(second)
        first.state = "CLAIMED"
        op.put_actual(first)

    assert list(store.actual_lrps) == [ActualKey("web", 1, ORDINARY), ActualKey("web", 0, ORDINARY)]


def scanned(store: Store | Snapshot, process_guid: str) -> list[ActualKey]:
    return [key for key in store.actual_lrps if key.process_guid == process_guid]


def test_the_keys_of_a_process_are_its_rows_in_the_tables_order_through_every_kind_of_write() -> (
    None
):
    """What the rules look up instead of scanning every row: the same keys in the same order
    after writes, rewrites, deletions, adoptions and a restore."""
    store = Store()
    rows = [store.new_actual_lrp(guid, i, "cf-apps") for guid in ("web", "api") for i in range(3)]
    with store.operation() as op:
        for row in rows:
            op.put_actual(row)
        op.put_actual(rows[0])  # rewritten: last now
        op.delete_actual(ActualKey.of(rows[1]))
        evacuating = store.new_actual_lrp("web", 2, "cf-apps")
        evacuating.presence = EVACUATING
        op.adopt(evacuating)
    assert (
        store.keys_of_process("web")
        == scanned(store, "web")
        == [
            ActualKey("web", 2, ORDINARY),
            ActualKey("web", 0, ORDINARY),
            ActualKey("web", 2, EVACUATING),
        ]
    )
    assert store.keys_of_process("api") == scanned(store, "api")
    assert store.keys_of_process("none") == []

    kept = store.snapshot()
    with store.operation() as op:
        op.delete_actual(ActualKey("web", 0, ORDINARY))
        op.delete_actual(ActualKey("web", 2, ORDINARY))
        op.delete_actual(ActualKey("web", 2, EVACUATING))
    assert store.keys_of_process("web") == []
    store.restore(kept)
    assert store.keys_of_process("web") == scanned(store, "web") == scanned(kept, "web")


def test_each_change_carries_the_rows_of_its_index_as_first_read() -> None:
    """What upstream's controller read before writing, in primary-key order: later writes of
    the same operation do not change it."""
    store = Store()
    ordinary = store.new_actual_lrp("web", 0, "cf-apps")
    evacuating = store.new_actual_lrp("web", 0, "cf-apps")
    evacuating.presence = EVACUATING
    with store.operation() as op:
        op.put_actual(evacuating)
        op.put_actual(ordinary)
    with store.operation() as op:
        ordinary.state = "CLAIMED"
        op.put_actual(ordinary)
        op.delete_actual(ActualKey.of(evacuating))

    first, second = op.changes
    assert first.index_rows is second.index_rows
    assert [row.presence for row in first.index_rows or ()] == [ORDINARY, EVACUATING]
    assert [row.state for row in first.index_rows or ()] == ["UNCLAIMED", "UNCLAIMED"]
