"""A small HTTP load generator (the fallback when `wrk` is not installed), run in its own process.

`python -m tests.benchmarks.httpload --base URL --paths FILE --clients 20 --seconds 10
[--token T]` sends GETs of the paths in FILE (one a line, rotated) from `clients` concurrent
asyncio clients and prints one JSON line: requests, seconds, errors, p50/p99/max in µs.
"""

import argparse
import asyncio
import json
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path

import httpx


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The value at `share` (0..1) of sorted values, nearest rank; 0 when there are none."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


async def client(
    http: httpx.AsyncClient, paths: list[str], deadline: float, latencies: list[float],
    errors: list[int], start: int,
) -> None:  # fmt: skip
    """Send requests one after another until `deadline`."""
    index = start
    while time.perf_counter() < deadline:
        path = paths[index % len(paths)]
        index += 1
        began = time.perf_counter()
        try:
            response = await http.get(path)
            if response.status_code >= 400:
                errors.append(response.status_code)
        except httpx.HTTPError:
            errors.append(0)
        latencies.append(time.perf_counter() - began)


async def run(
    base: str, paths: list[str], clients: int, seconds: float, token: str | None
) -> dict[str, float]:
    """Load `base` and measure."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors: list[int] = []
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=10.0
    ) as http:
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(*(
            client(http, paths, deadline, latencies, errors, random.randrange(len(paths)))
            for _ in range(clients)
        ))  # fmt: skip
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "errors": len(errors),
        "p50_us": percentile(latencies, 0.5) * 1e6,
        "p99_us": percentile(latencies, 0.99) * 1e6,
        "max_us": (latencies[-1] if latencies else 0.0) * 1e6,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--paths", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--token", default=os.environ.get("ZS_BENCH_TOKEN"))
    args = parser.parse_args(argv)
    paths = [line for line in args.paths.read_text().splitlines() if line]
    result = asyncio.run(run(args.base, paths, args.clients, args.seconds, args.token))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
