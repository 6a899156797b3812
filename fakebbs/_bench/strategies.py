"""The strategies section of ``python -m fakebbs.bench --strategies``: draws per second of the
desired LRP strategies and examples per second of the state machine, each beside a bare
baseline measured in the same run (a loaded machine slows both alike).

A figure is what a test sees: examples per second under ``@given`` in the generate phase
(Hypothesis's own per-example work included), never a timed assertion."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from hypothesis.strategies import SearchStrategy

from fakebbs.strategies import BBSStateMachine, desired_lrps, fault_schedules

__all__ = ["MACHINE_STEPS", "draws_per_second", "machine_examples_per_second"]

MACHINE_STEPS = 30
"""Steps per example of the state machine figures."""


def _settings(examples: int, **extra: Any) -> settings:
    return settings(
        max_examples=examples,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        **extra,
    )


def draws_per_second(strategy: SearchStrategy[Any], examples: int) -> float:
    """Examples per second of a ``@given`` test that only draws from ``strategy``."""
    ran = 0

    @_settings(examples)
    @given(strategy)
    def draw(value: Any) -> None:
        nonlocal ran
        ran += 1

    started = time.perf_counter()
    draw()
    return ran / (time.perf_counter() - started)


def machine_examples_per_second(machine: type[RuleBasedStateMachine], examples: int) -> float:
    """Examples of up to ``MACHINE_STEPS`` steps per second of a state machine."""
    ran = 0

    class Counted(machine):  # type: ignore[valid-type, misc]
        def __init__(self) -> None:
            nonlocal ran
            super().__init__()
            ran += 1

    Counted.__name__ = machine.__name__
    started = time.perf_counter()
    run_state_machine_as_test(
        Counted, settings=_settings(examples, stateful_step_count=MACHINE_STEPS)
    )
    return ran / (time.perf_counter() - started)


class BareMachine(RuleBasedStateMachine):
    """The baseline machine: one rule that draws a small integer and does nothing."""

    @rule(value=st.integers(0, 3))
    def step(self, value: int) -> None:
        pass


def figures(draws: int, examples: int) -> list[tuple[str, str, float, float, str, str]]:
    """(name, unit, value, baseline, baseline name, target) for each figure of the section."""
    bare_draws = draws_per_second(st.integers(), draws)
    bare_machine = machine_examples_per_second(BareMachine, examples)
    bare = "@given over st.integers()"
    rows = [
        (
            "desired_lrps()",
            "draws/s",
            draws_per_second(desired_lrps(), max(draws // 5, 1)),
            bare_draws,
            bare,
            "200",
        ),
        (
            "desired_lrps(minimal=True)",
            "draws/s",
            draws_per_second(desired_lrps(minimal=True), draws),
            bare_draws,
            bare,
            "2000",
        ),
        (
            "fault_schedules()",
            "draws/s",
            draws_per_second(fault_schedules(), draws),
            bare_draws,
            bare,
            "",
        ),
        (
            f"BBSStateMachine, every rule group on, {MACHINE_STEPS} steps",
            "examples/s",
            machine_examples_per_second(BBSStateMachine, examples),
            bare_machine,
            "a machine with one no-op rule",
            "20",
        ),
    ]
    return rows
