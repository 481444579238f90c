"""The status read latency is judged by the p95 of its reads, which stop as soon as too many were
slow for the p95 to be within the limit (a slow API costs two reads, not twenty)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from qtask_verify.checks.timing import require_status_reads_within, status_read_times_ms
from qtask_verify.clients import ApiClient, ApiResponse
from qtask_verify.errors import DeploymentFault
from qtask_verify.plugin.performance import percentile

LIMIT_MS = 200.0


class TimedApi:
    """Answers every read with 200 and the next of the given latencies."""

    def __init__(self, latencies_ms: list[float], status: int = 200) -> None:
        self._latencies: Iterator[float] = iter(latencies_ms)
        self._status = status
        self.reads = 0

    async def get_task(self, task_id: str) -> ApiResponse:
        self.reads += 1
        body: Any = {"task_id": task_id, "status": "completed"}
        return ApiResponse(self._status, body, "{}", next(self._latencies))


async def _judge(latencies_ms: list[float]) -> tuple[TimedApi, list[float]]:
    api = TimedApi(latencies_ms)
    reads = await status_read_times_ms(cast(ApiClient, api), "t", 20, LIMIT_MS)
    p50, p95 = percentile(reads.times_ms, 0.5), percentile(reads.times_ms, 0.95)
    require_status_reads_within(reads, p50, p95)
    return api, reads.times_ms


async def test_one_slow_read_of_twenty_passes() -> None:
    api, times = await _judge([5.0] * 10 + [900.0] + [5.0] * 9)
    assert api.reads == 20 and len(times) == 20


async def test_a_slow_api_is_judged_after_two_reads() -> None:
    with pytest.raises(DeploymentFault) as caught:
        await _judge([400.0] * 20)
    assert caught.value.diagnosis == (
        "reading a finished task's status: p95 400 ms exceeds 200 ms (p50 400 ms; 2 of 2 reads "
        "over the limit, so the other 18 were not made)"
    )


async def test_a_failed_read_names_its_status() -> None:
    api = TimedApi([5.0], status=500)
    with pytest.raises(DeploymentFault, match="reading task t answered 500, not 200"):
        await status_read_times_ms(cast(ApiClient, api), "t", 20, LIMIT_MS)
