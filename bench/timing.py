"""Clocks and step messages shared by the county build and the rows."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tqdm import tqdm


def say(message: str) -> None:
    """One progress line on stderr that does not break a running tqdm bar."""
    tqdm.write(message, file=sys.stderr)


@dataclass
class Lap:
    """The wall-clock seconds of one timed block (filled in when the block ends)."""

    seconds: float = 0.0


@contextmanager
def step(message: str) -> Iterator[Lap]:
    """Announce a long step, time it, and say how long it took."""
    say(f"· {message} …")
    lap = Lap()
    started = time.perf_counter()
    try:
        yield lap
    finally:
        lap.seconds = time.perf_counter() - started
    say(f"  {message}: {lap.seconds:.1f} s")


@contextmanager
def stopwatch() -> Iterator[Lap]:
    """Time a block silently."""
    lap = Lap()
    started = time.perf_counter()
    try:
        yield lap
    finally:
        lap.seconds = time.perf_counter() - started


def median_seconds(action: Callable[[int], object], *, repeat: int, warmup: int = 3) -> float:
    """Median wall-clock seconds of `action(i)` over `repeat` calls, after `warmup` calls."""
    for i in range(warmup):
        action(i)
    laps = []
    for i in range(repeat):
        started = time.perf_counter()
        action(i)
        laps.append(time.perf_counter() - started)
    return statistics.median(laps)
