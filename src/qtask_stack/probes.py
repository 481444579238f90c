"""Readiness probes: the questions `up` asks before it calls a component ready.

Each probe is cheap and bounded (one short connection, one-second timeouts), returns a plain
answer and never raises for an unreachable endpoint, because the launcher calls it in a loop
until a deadline.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

import httpx

_TIMEOUT_S = 1.0


def tcp_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=_TIMEOUT_S):
            return True
    except OSError:
        return False


def http_ok(url: str, auth: tuple[str, str] | None = None) -> bool:
    """Whether a GET answers 200 (a 503 from /health means "up but not ready")."""
    try:
        return httpx.get(url, auth=auth, timeout=_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


def queue_consumers(management_url: str, auth: tuple[str, str], queue: str) -> int:
    """Consumers on a queue of vhost `/` per the management API; 0 if it cannot be known.

    The management API refreshes its statistics every few seconds, but consumer counts come from
    the queue process itself and are current.
    """
    url = f"{management_url}/api/queues/{quote('/', safe='')}/{quote(queue, safe='')}"
    try:
        response = httpx.get(url, auth=auth, timeout=_TIMEOUT_S)
        if response.status_code != 200:
            return 0
        return int(json.loads(response.text).get("consumers", 0))
    except (httpx.HTTPError, ValueError):
        return 0
