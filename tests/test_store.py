"""The storage layer's own rules: how stored texts are truncated, the order rows are kept in."""

from __future__ import annotations

from fakebbs._store import EVACUATING, ORDINARY, ActualKey, Store, truncate_text


def test_truncate_keeps_texts_shorter_than_the_limit() -> None:
    assert truncate_text("a" * 1023) == "a" * 1023


def test_truncation_counts_bytes_and_never_splits_a_character() -> None:
    text = "é" * 600  # 1200 bytes; byte 1013 falls inside a character

    cut = truncate_text(text)

    assert cut == "é" * 506 + "(truncated)"
    assert len(cut.encode()) == 1023


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


def test_each_change_carries_the_rows_of_its_index_as_first_read() -> None:
    """What upstream's controller read before writing: later writes of the same operation
    do not change it."""
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
    assert [row.presence for row in first.index_rows or ()] == [EVACUATING, ORDINARY]
    assert [row.state for row in first.index_rows or ()] == ["UNCLAIMED", "UNCLAIMED"]
