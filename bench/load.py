"""A small HTTP/1.1 load generator: keep-alive connections asking GETs as fast as answered.

python -m bench.load PORT CONNECTIONS WARMUP_SECONDS SECONDS  < paths (one a line)

Runs in its own process (so it does not share the server's interpreter) on asyncio, one
coroutine per connection, each sending its next request when the previous answer is read.
Prints JSON: answers counted after the warm-up, their seconds, non-200s, errors, latencies.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

REQUEST = "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"


async def _connection(port, paths, offset, stop_at, count_from, tally):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    k = offset
    try:
        while time.perf_counter() < stop_at:
            path = paths[k % len(paths)]
            k += 1
            started = time.perf_counter()
            writer.write(REQUEST.format(path=path).encode())
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            ended = time.perf_counter()
            if started < count_from:
                continue
            if status_line.split(b" ", 2)[1] == b"200":
                tally["ok"] += 1
                tally["laps"].append(ended - started)
            else:
                tally["not_ok"] += 1
                tally.setdefault("first_error", status_line.decode("latin-1").strip())
    except (OSError, asyncio.IncompleteReadError, IndexError) as error:
        tally["errors"] += 1
        tally.setdefault("first_error", repr(error))
    finally:
        writer.close()


async def main(port: int, connections: int, warmup: float, seconds: float, paths: list[str]):
    tally = {"ok": 0, "not_ok": 0, "errors": 0, "laps": []}
    count_from = time.perf_counter() + warmup
    stop_at = count_from + seconds
    await asyncio.gather(
        *(
            _connection(port, paths, k * len(paths) // connections, stop_at, count_from, tally)
            for k in range(connections)
        )
    )
    laps = sorted(tally.pop("laps")) or [0.0]
    tally["seconds"] = seconds
    tally["p50_ms"] = statistics.median(laps) * 1000
    tally["p95_ms"] = laps[max(int(len(laps) * 0.95) - 1, 0)] * 1000
    return tally


if __name__ == "__main__":
    port, connections, warmup, seconds = sys.argv[1:5]
    paths = [line.strip() for line in sys.stdin if line.strip()]
    report = asyncio.run(main(int(port), int(connections), float(warmup), float(seconds), paths))
    print(json.dumps(report))
