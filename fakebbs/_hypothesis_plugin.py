"""Hypothesis plugin hook (entry point group ``hypothesis``): makes ``st.from_type`` draw every
message class of ``fakebbs.models`` from ``fakebbs.strategies``.

Hypothesis calls the hook while it is still importing itself, so the hook registers deferred
strategies and leaves importing ``fakebbs.strategies`` to the first draw.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from fakebbs._rules.wire import message_classes

__all__ = ["register_model_strategies"]


def register_model_strategies() -> None:
    """Register a strategy for every model, request, response and event message."""
    from hypothesis import strategies as st

    def deferred(cls: type[Message]) -> st.SearchStrategy[Any]:
        def build() -> st.SearchStrategy[Any]:
            from fakebbs.strategies import from_message_type

            return from_message_type(cls)

        return st.deferred(build)

    for cls in message_classes():
        st.register_type_strategy(cls, deferred(cls))
