"""Benchmark of the reference service: submission latency and end-to-end throughput.

50 concurrent clients submit Bell circuits (1024 shots) to the API while 2 workers consume them;
submission latency (p50/p95) and submissions/s come from the clients, end-to-end tasks/s from
the first submission to the last `completed_at` in the database. By default it runs on a private
local stack that it starts and tears down; `--api-url` and `--database-url` aim it at a running
deployment instead.

The clients speak HTTP/1.1 over plain asyncio streams (keep-alive, one connection each): httpx
measured 9 ms of client CPU per request here, more than the API spends answering it, so on a
2-core machine it would benchmark itself.

    python3 -m benchmarks.service [--tasks 3000] [--clients 50]
"""

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import orjson

from qtask_verify.checks.circuits import BELL_CIRCUIT

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


class _Client:
    """One keep-alive HTTP/1.1 connection posting the same JSON body again and again."""

    def __init__(self, host: str, port: int, body: bytes) -> None:
        self._host, self._port = host, port
        self._request = (
            f"POST /tasks HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self) -> tuple[int, bytes]:
        """Status code and body of one submission."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self._writer.write(self._request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self._reader.readexactly(length)
        if b"connection: close" in head.lower():
            await self.close()
        return status, body

    async def close(self) -> None:
        """Close the connection (the next post reconnects)."""
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()
        self._reader = self._writer = None


async def measure(api_url: str, database_url: str, tasks: int, clients: int) -> Figures:
    """Submit `tasks` Bell circuits from `clients` concurrent clients; wait for all to finish."""
    latencies: list[float] = []
    task_ids: list[uuid.UUID] = []
    failures = 0
    remaining = iter(range(tasks))
    address = urlsplit(api_url)
    body = orjson.dumps({"qc": BELL_CIRCUIT, "shots": SHOTS})

    async def client() -> None:
        nonlocal failures
        connection = _Client(address.hostname or "127.0.0.1", address.port or 80, body)
        try:
            for _ in remaining:
                started = time.perf_counter()
                status, answer = await connection.post()
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    task_ids.append(uuid.UUID(orjson.loads(answer)["task_id"]))
                else:
                    failures += 1
        finally:
            await connection.close()

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
            "SELECT extract(epoch FROM max(completed_at)) FROM tasks"
            " WHERE task_id = ANY($1::uuid[])",
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
    from qtask_stack import temporary_stack

    with temporary_stack(workers=WORKERS) as stack:
        env = stack.suite_env()
        return asyncio.run(measure(env["QTASK_API_URL"], env["QTASK_DATABASE_URL"], tasks, clients))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.service", description=__doc__)
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
