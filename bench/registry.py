"""The benchmark rows: each a function registered under a short key, returning Results.

A later issue adds its rows in a new module (`bench/<group>.py`) with `@row("key", "what")`
and lists the module in `ROW_MODULES`; `python -m bench --only key` runs just that one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.county import County

# Modules whose import registers rows, in the order the rows run.
ROW_MODULES = [
    "bench.spine",
    "bench.map",
    "bench.lookup_search",
    "bench.lookup_service",
    "bench.field",
    "bench.baselines",
    "bench.wholesale",
    "bench.billing",
    "bench.billing_kpis",
    "bench.ogc",
    "bench.iqgeo",
]


@dataclass(frozen=True)
class Goal:
    """What oanm must reach: a floor or ceiling on its own figure and/or a ceiling on the ratio.

    `max_ratio` bounds oanm's cost relative to raw SQL (see Result.ratio): 1.2 means "at most
    20 % slower than the raw statement".
    """

    minimum: float | None = None
    maximum: float | None = None
    max_ratio: float | None = None

    def describe(self, unit: str) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"≥ {_number(self.minimum)} {unit}")
        if self.maximum is not None:
            parts.append(f"≤ {_number(self.maximum)} {unit}")
        if self.max_ratio is not None:
            parts.append(f"≤ {self.max_ratio:g}× raw")
        return " and ".join(parts)


@dataclass
class Result:
    """One line of the table: oanm's figure, the goal, and the raw SQL figure it is held to.

    `value`/`raw_value` are in `unit`. `higher_is_better` says which way is good (throughput
    vs time); `ratio` is always oanm's cost over raw's (> 1: oanm is slower). A row with no
    oanm figure (value None) is informational: a physical limit shown for reference.
    """

    name: str
    unit: str
    value: float | None = None
    raw_value: float | None = None
    goal: Goal | None = None
    higher_is_better: bool = False
    seconds: float | None = None
    raw_seconds: float | None = None
    raw_label: str = ""
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.value or not self.raw_value:
            return None
        if self.higher_is_better:
            return self.raw_value / self.value
        return self.value / self.raw_value

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.goal is None or self.value is None:
            return "info"
        goal, ok = self.goal, True
        if goal.minimum is not None:
            ok = ok and self.value >= goal.minimum
        if goal.maximum is not None:
            ok = ok and self.value <= goal.maximum
        if goal.max_ratio is not None:
            ok = ok and self.ratio is not None and self.ratio <= goal.max_ratio
        return "PASS" if ok else "MISS"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["goal"] = asdict(self.goal) if self.goal else None
        data["goal_text"] = self.goal.describe(self.unit) if self.goal else ""
        data["ratio"] = self.ratio
        data["verdict"] = self.verdict
        return data


@dataclass
class BenchContext:
    """What every row gets: the county and the options of this run."""

    county: County
    rebuild_files: bool = False
    # How often the long rows run each side (best of N); 1 keeps a full run short.
    repeat: int = 1


RowFunction = Callable[[BenchContext], list[Result]]


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    function: RowFunction


ROWS: dict[str, Row] = {}


def row(key: str, title: str) -> Callable[[RowFunction], RowFunction]:
    """Register a row function under `key` (what `--only` takes)."""

    def register(function: RowFunction) -> RowFunction:
        if key in ROWS:
            raise ValueError(f"benchmark row {key!r} registered twice")
        ROWS[key] = Row(key, title, function)
        return function

    return register


def load_rows() -> dict[str, Row]:
    """Import every row module (registering its rows) and return the registry."""
    import importlib

    for module in ROW_MODULES:
        importlib.import_module(module)
    return ROWS


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
