"""The session fixture other test packages rely on: a running stack on a free API port."""

from __future__ import annotations

import httpx

from qtask_stack import Stack


def test_local_stack_is_up_on_a_free_port_with_two_workers(local_stack: Stack) -> None:
    rows = {row.name: row for row in local_stack.status()}
    assert set(rows) == {"database", "broker", "api", "worker-1", "worker-2"}
    assert all(row.is_up for row in rows.values()), rows
    api_url = local_stack.suite_env()["QTASK_API_URL"]
    assert api_url != "http://127.0.0.1:8001"
    assert local_stack.service_env()["QTASK_SERVICE_PORT"] == api_url.rsplit(":", 1)[1]
    assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200
