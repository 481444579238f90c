"""The preflight against the real stack, misconfigured: each case diagnosed in its own words, in
time, and a failed preflight still writes every report with one failing case."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from qtask_stack import Stack
from qtask_verify.config import Environment, load_environment
from qtask_verify.deployment.preflight import run_preflight
from tests.suite.interruption.killing import stack_environment
from tests.support.verify_process import REPOSITORY, run_verify

PREFLIGHT_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def environment(local_stack: Stack) -> Environment:
    return load_environment(
        "local", REPOSITORY / "environments.toml", environ=stack_environment(local_stack)
    )


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0), backlog=50)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in [*accepted, server]:
        connection.close()


async def test_the_healthy_stack_passes_and_tells_who_it_is(environment: Environment) -> None:
    report = await run_preflight(environment)
    assert report.ok, report.failures
    assert report.identity.database and report.identity.broker


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        (
            lambda env: {"amqp_url": env.amqp_url.rstrip("/") + "/no-such-vhost"},
            r'^queue: the broker at .*: vhost "no-such-vhost" does not exist or user "[^"]+" '
            r"may not use it$",
        ),
        (
            lambda env: {"amqp_url": env.amqp_url.replace("amqp://", "amqps://")},
            r"^queue: 127\.0\.0\.1:\d+ answered the TLS handshake in plain text: the port speaks "
            r"plain TCP, not TLS$",
        ),
        (
            lambda env: {"api_url": env.api_url.replace("http://", "https://")},
            r"^api: .* the port speaks plain TCP, not TLS$",
        ),
        (
            lambda env: {"api_url": env.management_url},
            r"^api: http://127\.0\.0\.1:\d+ does not serve the task-queue API: GET /health "
            r"answered 404 with JSON without a status field",
        ),
    ],
    ids=["wrong-vhost", "amqps-to-plain-port", "https-to-plain-port", "another-http-service"],
)
async def test_an_obscure_driver_error_is_named_for_what_was_seen(
    environment: Environment, change: object, failure: str
) -> None:
    broken = dataclasses.replace(environment, **change(environment))  # type: ignore[operator]
    report = await run_preflight(broken)
    assert not report.ok
    assert any(re.search(failure, line) for line in report.failures), report.failures
    assert report.duration_s < PREFLIGHT_WITHIN_S


def test_a_silent_database_port_is_diagnosed_within_the_bound_in_every_report(
    local_stack: Stack, silent_port: int, tmp_path: Path
) -> None:
    env = stack_environment(local_stack)
    env["QTASK_DATABASE_URL"] = _with_port(env["QTASK_DATABASE_URL"], silent_port)
    run = run_verify(tmp_path, ["-m", "p1"], env, timeout_s=60)
    assert run.code == 1, run.output[-3000:]
    expected = f"database: 127.0.0.1:{silent_port} accepts connections but sent no answer within"
    assert run.record["preflight"]["failures"][0].startswith(expected)
    assert run.record["preflight"]["duration_s"] < PREFLIGHT_WITHIN_S
    [case] = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    failure = case.find("failure")
    assert case.get("name") == "preflight" and failure is not None
    assert expected in (failure.get("message") or "")
    for name in ("report.html", "report.json", "cucumber.json", "signoff.html"):
        assert (tmp_path / name).is_file(), name
    print(
        f"silent database port: preflight {run.record['preflight']['duration_s']:.2f} s, "
        f"run {run.seconds:.1f} s"
    )


def test_a_url_without_a_scheme_is_a_configuration_error(
    local_stack: Stack, tmp_path: Path
) -> None:
    env = stack_environment(local_stack)
    env["QTASK_API_URL"] = env["QTASK_API_URL"].removeprefix("http://")
    run = run_verify(tmp_path, [], env, timeout_s=60)
    assert run.code == 2, run.output[-2000:]
    assert run.stderr.strip().startswith(
        "qtask-verify: configuration error: api_url (QTASK_API_URL) is not a URL the suite can use:"
    )
    assert "does not start with http:// or https://" in run.stderr
    assert not (tmp_path / "run.json").exists()
