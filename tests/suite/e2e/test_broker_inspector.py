"""The broker inspector against a real broker: a passive declare cancelled midway never costs
the other callers their connection (the broker closes a connection on a half-opened channel)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from qtask_verify.clients import BrokerInspector

ROUNDS = 200


async def test_cancelled_live_counts_leave_the_connection_to_everyone_else(
    local_stack: Any,
) -> None:
    env = local_stack.suite_env()
    broker = BrokerInspector(
        env["QTASK_MANAGEMENT_URL"],
        env["QTASK_MANAGEMENT_USER"],
        env["QTASK_MANAGEMENT_PASSWORD"],
        env["QTASK_AMQP_URL"],
    )
    shuffle = random.Random(9)
    try:
        for _ in range(ROUNDS):
            cancelled = asyncio.ensure_future(
                asyncio.gather(broker.live_state("quantum_tasks"), broker.live_state("nothing"))
            )
            await asyncio.sleep(shuffle.random() * 0.004)
            cancelled.cancel()
            state = await broker.live_state("quantum_tasks")  # raises if the connection closed
            assert state is not None
    finally:
        await broker.aclose()
