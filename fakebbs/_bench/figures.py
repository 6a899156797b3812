"""The benchmark's figures, the sizes it runs at and the report it prints."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_AVAILABLE = "n/a (not available)"


@dataclass
class Figure:
    """One measured figure, its baseline (same unit, same run) and optional real BBS figure.

    ``value`` is None when the fake lacks the API measured (printed as "n/a (not available)");
    ``target`` is the ratio or absolute value the figure should stay under, if there is one.
    """

    section: str
    name: str
    unit: str
    value: float | None
    baseline: float | None = None
    baseline_name: str = ""
    real: float | None = None
    target: str = ""
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ratio": self.ratio}


@dataclass(frozen=True)
class Sizes:
    """How much each section does; ``quick()`` for CI."""

    calls: int = 1000  # per-call iterations, per transport
    lists: tuple[int, ...] = (1_000, 10_000)
    list_repeats: int = 5
    rps_seconds: float = 2.0
    fixture_items: int = 10_000
    memory_items: int = 10_000
    repeats: int = 20  # start/stop/reset repetitions
    draws: int = 2000  # examples per strategy figure (a fifth for full desired LRPs)
    machine_examples: int = 100  # examples per state machine figure
    diego_cells: int = 1_000  # the simulated Diego's cells...
    diego_instances: int = 100_000  # ...and the instances placed and RUNNING on them
    streams: int = 2_000  # open event streams, in one namespace of a shared server
    keep_alive: int = 1_000  # idle keep-alive connections, likewise

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            calls=30,
            lists=(100, 1_000),
            list_repeats=2,
            rps_seconds=0.3,
            fixture_items=1_000,
            memory_items=1_000,
            repeats=3,
            draws=200,
            machine_examples=10,
            diego_cells=20,
            diego_instances=1_000,
            streams=50,
            keep_alive=50,
        )


def ms(seconds: float) -> float:
    return seconds * 1000.0


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@dataclass
class BenchReport:
    figures: list[Figure] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "seconds": self.seconds,
            "figures": [figure.as_dict() for figure in self.figures],
        }

    def text(self) -> str:
        real = any(figure.real is not None for figure in self.figures)
        lines = [
            "fakebbs bench on " + ", ".join(f"{k} {v}" for k, v in self.machine.items()),
            f"({self.seconds:.0f} s; ratio = fakebbs / baseline; under 1 is faster, but for req/s)",
        ]
        section = baseline = ""
        for figure in self.figures:
            if figure.section != section:
                section = figure.section
                baseline = figure.baseline_name
                lines.append("")
                lines.append(f"{section} (baseline: {baseline or '-'})")
                header = f"  {'figure':<58} {'fakebbs':>12} {'baseline':>12} {'ratio':>7}"
                if real:
                    header += f" {'real BBS':>10}"
                lines.append(header + "  target")
            row = _row(figure, real)
            if figure.baseline_name and figure.baseline_name != baseline:
                row += f"  [baseline: {figure.baseline_name}]"
            lines.append(row)
        return "\n".join(lines)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "req/s" or value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}" if value < 1 else f"{value:.1f} {unit}"


def _row(figure: Figure, real: bool) -> str:
    if figure.value is None:
        return f"  {figure.name:<58} {NOT_AVAILABLE}"
    ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}x"
    row = (
        f"  {figure.name:<58} {_number(figure.value, figure.unit):>12} "
        f"{_number(figure.baseline, figure.unit):>12} {ratio:>7}"
    )
    if real:
        row += f" {_number(figure.real, figure.unit):>10}"
    if not figure.target:
        return row
    return row + (f"  >= {figure.target}" if figure.higher_is_better else f"  < {figure.target}")


def machine() -> dict[str, str]:
    import cheroot
    import google.protobuf
    from google.protobuf.internal import api_implementation

    return {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "protobuf": f"{google.protobuf.__version__} ({api_implementation.Type()})",
        "cheroot": cheroot.__version__,
        "system": f"{platform.system()} {platform.machine()}",
    }
