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
import psutil

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


def consumer_ports(management_url: str, auth: tuple[str, str], vhost: str, queue: str) -> set[int]:
    """Client ports of the AMQP connections that consume from a queue of a vhost.

    Matching them against a process's own sockets tells which process consumes, where a bare
    consumer count would still include a worker that was just killed.
    """
    url = f"{management_url}/api/consumers/{quote(vhost, safe='')}"
    try:
        response = httpx.get(url, auth=auth, timeout=_TIMEOUT_S)
        if response.status_code != 200:
            return set()
        consumers = json.loads(response.text)
    except (httpx.HTTPError, ValueError):
        return set()
    return {
        int(consumer["channel_details"]["peer_port"])
        for consumer in consumers
        if consumer.get("queue", {}).get("name") == queue
        and isinstance(consumer.get("channel_details"), dict)
        and "peer_port" in consumer["channel_details"]
    }


def process_ports_to(pid: int, remote_port: int) -> set[int]:
    """Local ports of a process's TCP connections to 127.0.0.1:remote_port."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return set()
    return {
        connection.laddr.port
        for connection in connections
        if connection.raddr and connection.raddr.port == remote_port
    }
