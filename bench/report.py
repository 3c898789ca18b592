"""The results: a plain-text table on stdout and bench/.cache/results.json."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.county import CACHE, County
from bench.registry import Result

RESULTS = CACHE / "results.json"
HEADERS = ("row", "oanm", "goal", "raw SQL", "oanm/raw", "")


def format_value(value: float | None, unit: str, seconds: float | None = None) -> str:
    """A figure with its unit: `41,250 addresses/s (24.2 s)`, `33.8 s`, `0.043 ms`."""
    if value is None:
        return "—"
    if unit == "s":
        text = f"{value:,.1f} s" if value >= 10 else f"{value:,.2f} s"
    elif unit == "ms":
        text = f"{value:,.3f} ms" if value < 1 else f"{value:,.1f} ms"
    elif value >= 100:
        text = f"{value:,.0f} {unit}"
    else:
        text = f"{value:,.2f} {unit}"
    if seconds is not None and unit != "s":
        text += f" ({seconds:,.1f} s)"
    return text


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    lines = []
    for result in results:
        ratio = result.ratio
        lines.append(
            (
                result.name,
                format_value(result.value, result.unit, result.seconds),
                result.goal.describe(result.unit) if result.goal else "—",
                format_value(result.raw_value, result.unit, result.raw_seconds),
                f"{ratio:.2f}×" if ratio is not None else "—",
                result.verdict,
            )
        )
    return lines


def render_table(results: list[Result]) -> str:
    """The table, columns padded, followed by each row's raw statement and notes."""
    lines = table_rows(results)
    widths = [max(len(line[i]) for line in [HEADERS, *lines]) for i in range(len(HEADERS))]

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    out = [render(HEADERS), "  ".join("─" * width for width in widths)]
    out += [render(line) for line in lines]
    notes = []
    for result in results:
        if result.raw_label:
            notes.append(f"  {result.name}: raw = {result.raw_label}")
        if result.note:
            notes.append(f"  {result.name}: {result.note}")
        if result.error:
            notes.append(f"  {result.name}: ERROR {result.error}")
    if notes:
        out += ["", *notes]
    return "\n".join(line.rstrip() for line in out)


def environment(database_versions: dict[str, str]) -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        **database_versions,
    }


def write_json(
    results: list[Result],
    county: County,
    env: dict[str, Any],
    *,
    seconds: float,
    path: Path = RESULTS,
) -> Path:
    """Write this run's results (only the rows that ran) as JSON."""
    path.parent.mkdir(exist_ok=True)
    rows = {result.name: result.as_dict() for result in results}
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "county": {
            "database": county.database,
            "addresses": county.addresses,
            "areas": county.areas,
            "built_this_run": county.built,
            "build_seconds": round(county.seconds, 1),
        },
        "environment": env,
        "run_seconds": round(seconds, 1),
        "rows": list(rows.values()),
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(path)
    return path
