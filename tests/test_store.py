"""The storage layer's own rules: how stored texts are truncated."""

from __future__ import annotations

from fakebbs._store import truncate_text


def test_truncate_keeps_texts_shorter_than_the_limit() -> None:
    assert truncate_text("a" * 1023) == "a" * 1023


def test_truncation_counts_bytes_and_never_splits_a_character() -> None:
    text = "é" * 600  # 1200 bytes; byte 1013 falls inside a character

    cut = truncate_text(text)

    assert cut == "é" * 506 + "(truncated)"
    assert len(cut.encode()) == 1023
