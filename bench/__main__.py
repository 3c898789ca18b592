"""`python -m bench`: build (or find) the county, run the rows, print the table, write JSON.

python -m bench                    everything (the county is built once, then reused)
python -m bench --only assignment  one row (repeat --only for several)
python -m bench --rebuild          rebuild the county and the files made from it
python -m bench --list             the rows there are
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Build the synthetic county (once) and measure oanm against raw SQL.",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="ROW",
        help="run only this row (see --list); may be given more than once",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the county and the files exported from it even if they are current",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each side of the long comparisons N times and keep the best (default 1)",
    )
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a row misses its goal"
    )
    return parser.parse_args(argv)


def setup_django() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def database_facts(name: str) -> dict[str, str]:
    from bench import databases

    with databases.connect(name) as conn:
        facts = {
            "postgresql": conn.execute("SHOW server_version").fetchone()[0],
            "postgis": conn.execute("SELECT postgis_lib_version()").fetchone()[0],
        }
        for setting in (
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "max_wal_size",
            "max_parallel_workers_per_gather",
            "jit",
        ):
            facts[setting] = conn.execute(f"SHOW {setting}").fetchone()[0]
    return facts


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    setup_django()

    from bench import databases
    from bench.registry import load_rows

    rows = load_rows()
    if arguments.list:
        for key, entry in rows.items():
            print(f"{key:<12} {entry.title}")
        return 0
    selected = list(rows)
    if arguments.only:
        unknown = [key for key in arguments.only if key not in rows]
        if unknown:
            print(f"unknown row(s): {', '.join(unknown)}; known: {', '.join(rows)}")
            return 2
        selected = [key for key in rows if key in arguments.only]

    with databases.exclusive_run():
        return run(
            selected,
            rows,
            rebuild=arguments.rebuild,
            strict=arguments.strict,
            repeat=max(1, arguments.repeat),
        )


def run(selected: list[str], rows: dict, *, rebuild: bool, strict: bool, repeat: int) -> int:
    from bench import databases, report
    from bench.county import ensure_county
    from bench.registry import BenchContext, Result
    from bench.timing import say, stopwatch

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    county = ensure_county(rebuild=rebuild)
    databases.switch_database(county.database)
    context = BenchContext(county=county, rebuild_files=rebuild, repeat=repeat)

    results: list[Result] = []
    timings: dict[str, float] = {}
    for key in selected:
        entry = rows[key]
        say(f"━ {key}: {entry.title}")
        with stopwatch() as lap:
            try:
                results.extend(entry.function(context))
            except Exception as error:  # a broken row must not hide the others
                traceback.print_exc()
                results.append(Result(name=key, unit="", error=f"{type(error).__name__}: {error}"))
            finally:
                databases.switch_database(county.database)
        timings[key] = lap.seconds
        say(f"  {key} done in {lap.seconds:.0f} s")

    total = time.perf_counter() - started
    print()
    print(
        f"oanm benchmarks — county v{context_version()}: {county.addresses:,} addresses,"
        f" {county.areas:,} areas in {county.database}"
        + (f" (built in {county.seconds:.0f} s)" if county.built else " (reused)")
    )
    print()
    print(report.render_table(results))
    print()
    print("row times: " + ", ".join(f"{key} {seconds:.0f} s" for key, seconds in timings.items()))
    environment = report.environment(database_facts(county.database))
    environment["row_seconds"] = {key: round(seconds, 1) for key, seconds in timings.items()}
    environment["load_average_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    path = report.write_json(results, county, environment, seconds=total)
    print(f"total {total:.0f} s; results in {path.relative_to(REPO)}")
    load_after = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if max(load_before, load_after) > cpus * 0.75:
        print(
            f"note: the machine was busy (1-minute load {load_before:.1f} before,"
            f" {load_after:.1f} after, on {cpus} CPUs): figures are noisy; ratios are fairer"
            " than absolute numbers, and a quiet re-run is better still"
        )

    if any(result.verdict == "ERROR" for result in results):
        return 1
    if strict and any(result.verdict == "MISS" for result in results):
        return 1
    return 0


def context_version() -> int:
    from bench.county import VERSION

    return VERSION


if __name__ == "__main__":
    sys.exit(main())
