"""How requests may arrive: a megabyte of headers is refused, trickling clients are dropped, and
the API keeps answering everybody else meanwhile.

These run against a second API process on the session's stack (its database and broker), with
the time bounds shortened from their defaults (10 s for a head, 20 s for a body) to keep the
tests short; the bounds work the same at any value.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from qtask_stack import Stack
from qtask_stack.process import MARKER_ENV
from qtask_stack.state import load_state

HEAD_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 3.0
SLOW_CLIENTS = 300
# A bound is kept when the connection ends within it, plus the event loop's scheduling slack.
SLACK_S = 2.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def bounded_api(local_stack: Stack) -> Iterator[str]:
    """The reference API with short request time bounds, on the stack's database and broker."""
    state = load_state(local_stack.state_dir)
    assert state is not None
    port = _free_port()
    env = {
        **os.environ,
        **local_stack.service_env(),
        MARKER_ENV: state.stack_id,  # swept with the stack should this test process die
        "QTASK_SERVICE_PORT": str(port),
        "QTASK_SERVICE_REQUEST_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S),
        "QTASK_SERVICE_REQUEST_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
    }
    log = (local_stack.state_dir / "logs" / "bounded-api.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "qtask_service.api"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the API exited; see bounded-api.log"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not become healthy"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before closing (a reset after its answer is a close too)."""
    data = b""
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except ConnectionError:
        pass
    return data


async def test_a_megabyte_of_headers_is_refused_with_431(bounded_api: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(bounded_api))
    head = b"GET /health HTTP/1.1\r\nHost: qtask\r\n"
    header = b"X-Padding-%d: " + b"a" * 1000 + b"\r\n"
    try:
        writer.write(head)
        for index in range(1024):  # 1 MB, sent while the server may already have answered
            writer.write(header % index)
            await writer.drain()
        writer.write(b"\r\n")
        await writer.drain()
    except ConnectionError:
        pass  # refused before all of it was sent
    answer = await _answer(reader)
    writer.close()

    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def test_headers_under_the_limit_are_served(bounded_api: str) -> None:
    async with httpx.AsyncClient(base_url=bounded_api) as api:
        response = await api.get("/health", headers={"X-Padding": "a" * 30_000})

    assert response.status_code == 200


async def _trickle_body(port: int) -> tuple[float, bytes]:
    """A POST whose body comes one byte a second; how long until the server ended it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /tasks HTTP/1.1\r\nHost: qtask\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    started = time.monotonic()
    answer = asyncio.create_task(_answer(reader))
    try:
        while not answer.done():
            writer.write(b" ")
            await writer.drain()
            await asyncio.wait([answer], timeout=1.0)
    except ConnectionError:
        pass
    received = await answer
    held_s = time.monotonic() - started
    writer.close()
    return held_s, received


async def test_slow_bodies_are_dropped_and_others_are_served_meanwhile(bounded_api: str) -> None:
    port = _port(bounded_api)
    clients = [asyncio.create_task(_trickle_body(port)) for _ in range(SLOW_CLIENTS)]
    try:
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(base_url=bounded_api, timeout=5) as api:
            started = time.monotonic()
            health = await api.get("/health")
            answered_s = time.monotonic() - started
        async with asyncio.timeout(BODY_TIMEOUT_S + 10 * SLACK_S):
            results = await asyncio.gather(*clients)
    finally:
        for client in clients:
            client.cancel()  # only those still held, should the bound not hold
        await asyncio.gather(*clients, return_exceptions=True)

    assert health.status_code == 200
    assert answered_s < 2.0  # the contract's bound for /health
    held = sorted(held_s for held_s, _ in results)
    assert held[-1] < BODY_TIMEOUT_S + SLACK_S, f"held up to {held[-1]:.1f} s"
    # Those that read before their next byte was refused saw why.
    assert any(answer.startswith(b"HTTP/1.1 408 ") for _, answer in results)


async def test_a_slow_request_head_is_dropped_with_408(bounded_api: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(bounded_api))
    started = time.monotonic()
    writer.write(b"GET /health HTTP/1.1\r\nHost: qt")  # and nothing more

    answer = await _answer(reader)
    held_s = time.monotonic() - started
    writer.close()

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within" in answer
    assert HEAD_TIMEOUT_S - 0.5 < held_s < HEAD_TIMEOUT_S + SLACK_S


async def test_a_connection_that_sends_nothing_is_closed(bounded_api: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(bounded_api))
    started = time.monotonic()

    answer = await _answer(reader)
    held_s = time.monotonic() - started
    writer.close()

    assert answer == b""
    assert held_s < HEAD_TIMEOUT_S + SLACK_S


async def test_a_partial_body_gets_408_naming_the_bound(bounded_api: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(bounded_api))
    writer.write(
        b"POST /tasks HTTP/1.1\r\nHost: qtask\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"qc": '
    )

    answer = await _answer(reader)
    writer.close()

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert f"body did not arrive within {BODY_TIMEOUT_S:g} s".encode() in answer
