"""Benchmark of the reference service: submission latency and end-to-end throughput.

50 concurrent clients submit Bell circuits (1024 shots) to the API while 2 workers consume them;
submission latency (p50/p95) and submissions/s come from the clients, end-to-end tasks/s from
the first submission to the last `completed_at` in the database. By default it runs on a private
local stack that it starts and tears down; `--api-url` and `--database-url` aim it at a running
deployment instead.

    python -m benchmarks.service [--tasks 3000] [--clients 50]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

BELL = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""
SHOTS = 1024
WORKERS = 2


@dataclass(frozen=True)
class Figures:
    """What one run measured."""

    tasks: int
    clients: int
    submissions_per_s: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    end_to_end_per_s: float
    completed: int
    failed_requests: int


async def measure(api_url: str, database_url: str, tasks: int, clients: int) -> Figures:
    """Submit `tasks` Bell circuits from `clients` concurrent clients; wait for all to finish."""
    latencies: list[float] = []
    task_ids: list[uuid.UUID] = []
    failures = 0
    remaining = iter(range(tasks))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=30) as http:

        async def client() -> None:
            nonlocal failures
            for _ in remaining:
                started = time.perf_counter()
                response = await http.post("/tasks", json={"qc": BELL, "shots": SHOTS})
                latencies.append(time.perf_counter() - started)
                if response.status_code == 200:
                    task_ids.append(uuid.UUID(response.json()["task_id"]))
                else:
                    failures += 1

        await http.get("/health")  # warm the connection path before timing
        started_at = time.time()
        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        submit_s = time.perf_counter() - began

    connection = await asyncpg.connect(database_url)
    try:
        done = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = await connection.fetchval(
                "SELECT count(*) FROM tasks WHERE task_id = ANY($1::uuid[])"
                " AND current_status IN ('completed', 'failed')",
                task_ids,
            )
            if done == len(task_ids):
                break
            await asyncio.sleep(0.2)
        last = await connection.fetchval(
            "SELECT extract(epoch FROM max(completed_at)) FROM tasks WHERE task_id = ANY($1::uuid[])",
            task_ids,
        )
        completed = await connection.fetchval(
            "SELECT count(*) FROM tasks WHERE task_id = ANY($1::uuid[])"
            " AND current_status = 'completed'",
            task_ids,
        )
    finally:
        await connection.close()
    ordered = sorted(latencies)
    return Figures(
        tasks=tasks,
        clients=clients,
        submissions_per_s=len(latencies) / submit_s,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[int(0.95 * (len(ordered) - 1))] * 1000,
        max_ms=ordered[-1] * 1000,
        end_to_end_per_s=len(task_ids) / (float(last) - started_at) if last else 0.0,
        completed=completed,
        failed_requests=failures,
    )


def render(figures: Figures) -> str:
    """A small table of the figures, with the issue's targets beside them."""
    rows = [
        ("tasks submitted", f"{figures.tasks}", ""),
        ("concurrent clients", f"{figures.clients}", ""),
        ("submissions/s", f"{figures.submissions_per_s:.0f}", ""),
        ("submission p50 (ms)", f"{figures.p50_ms:.1f}", ""),
        ("submission p95 (ms)", f"{figures.p95_ms:.1f}", "<= 100"),
        ("submission max (ms)", f"{figures.max_ms:.1f}", ""),
        (f"end-to-end tasks/s ({WORKERS} workers)", f"{figures.end_to_end_per_s:.0f}", ">= 100"),
        ("completed", f"{figures.completed}/{figures.tasks}", ""),
        ("refused submissions", f"{figures.failed_requests}", "0"),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'service benchmark (Bell, 1024 shots)':<{width}}  {'value':>9}  target"]
    lines += [f"{name:<{width}}  {value:>9}  {target}" for name, value, target in rows]
    return "\n".join(lines)


def _on_private_stack(tasks: int, clients: int) -> Figures:
    from qtask_stack import Stack

    with tempfile.TemporaryDirectory(prefix="qtask-bench-") as state_dir:
        stack = Stack(Path(state_dir), workers=WORKERS)
        stack.up()
        try:
            env = stack.suite_env()
            return asyncio.run(
                measure(env["QTASK_API_URL"], env["QTASK_DATABASE_URL"], tasks, clients)
            )
        finally:
            stack.down()


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service", description=__doc__)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--api-url", help="benchmark this running API instead of a private stack")
    parser.add_argument("--database-url", help="its database (needed with --api-url)")
    args = parser.parse_args(argv)
    if args.api_url:
        if not args.database_url:
            parser.error("--api-url needs --database-url")
        figures = asyncio.run(measure(args.api_url, args.database_url, args.tasks, args.clients))
    else:
        figures = _on_private_stack(args.tasks, args.clients)
    print(render(figures))


if __name__ == "__main__":
    main()
