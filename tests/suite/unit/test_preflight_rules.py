"""The preflight's rules that need no deployment: usable URLs, the task-queue API's shape, and the
names given to what drivers report obscurely."""

from __future__ import annotations

import dataclasses
import ssl

import aiormq
import httpx
import pytest

from qtask_verify.deployment import contract, diagnoses
from qtask_verify.deployment.preflight import check_configuration
from qtask_verify.errors import ConfigurationError
from tests.suite.unit.environments import ENVIRONMENT

HEALTHY = {"status": "healthy", "database_status": "connected", "queue_status": "connected"}
SPEC = {"paths": {"/tasks": {"post": {}}, "/tasks/{task_id}": {"get": {}}, "/health": {"get": {}}}}


def test_well_formed_urls_pass() -> None:
    check_configuration(ENVIRONMENT)


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("api_url", "127.0.0.1:8001", "does not start with http:// or https://"),
        ("api_url", "ftp://127.0.0.1:8001", "does not start with http:// or https://"),
        (
            "database_url",
            "postgresql://qtask:pw@127.0.0.1:99999/qtask",
            "port that is not a number",
        ),
        ("amqp_url", "amqp:///", "names no host"),
        ("database_url", "qtask:s3cret-pw@db:5432/qtask", "does not start with postgresql://"),
    ],
)
def test_a_malformed_url_is_a_configuration_error_naming_it_without_its_password(
    key: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_configuration(dataclasses.replace(ENVIRONMENT, **{key: value}))
    message = str(raised.value)
    assert message.startswith(f"{key} (QTASK_{key.removesuffix('_url').upper()}_URL)")
    assert problem in message
    assert "s3cret-pw" not in message and ":pw@" not in message


def test_a_read_only_account_cannot_allow_mutating_scenarios() -> None:
    with pytest.raises(ConfigurationError, match=r"read-only account .* allow_mutating = false"):
        check_configuration(dataclasses.replace(ENVIRONMENT, read_only_account=True))
    check_configuration(
        dataclasses.replace(ENVIRONMENT, read_only_account=True, allow_mutating=False)
    )


def test_the_contract_s_health_object_and_operations_are_the_task_queue_api() -> None:
    assert contract.unlike_the_api(200, "JSON", HEALTHY, SPEC) is None
    assert contract.unlike_the_api(503, "JSON", {"status": "unhealthy"}, None) is None


@pytest.mark.parametrize(
    ("status", "kind", "body", "spec", "said"),
    [
        (404, "an HTML page", None, None, "GET /health answered 404 with an HTML page"),
        (404, "JSON", {"detail": "Not Found"}, None, "with JSON without a status field"),
        (200, "JSON", {"status": "ok"}, None, 'status "ok", not "healthy" or "unhealthy"'),
        (200, "JSON", HEALTHY, {"paths": {"/items": {"get": {}}}}, "lists no POST /tasks and no"),
    ],
)
def test_another_http_service_is_named_for_what_it_answered(
    status: int, kind: str, body: object, spec: dict[str, object] | None, said: str
) -> None:
    unlike = contract.unlike_the_api(status, kind, body, spec)
    assert unlike is not None and said in unlike


def test_tls_to_a_plain_port_is_named() -> None:
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    error.reason = "WRONG_VERSION_NUMBER"  # type: ignore[misc]
    wrapped = httpx.ConnectError(str(error))
    wrapped.__cause__ = error
    assert diagnoses.speaks_plain_tcp(wrapped)
    amqp = aiormq.exceptions.AMQPConnectionError(1, str(error))
    assert diagnoses.speaks_plain_tcp(amqp)
    assert not diagnoses.speaks_plain_tcp(ConnectionRefusedError(111, "Connection refused"))
    assert diagnoses.plain_tcp("h:1").endswith("the port speaks plain TCP, not TLS")


def test_a_vhost_the_broker_will_not_open_is_named() -> None:
    frame = aiormq.exceptions.InvalidFrameError(
        "Expected one of ['Connection.OpenOk'], got <Connection.Close object at 0x7f>"
    )
    assert diagnoses.vhost_refused(frame)
    assert not diagnoses.vhost_refused(aiormq.exceptions.AMQPConnectionError("reset"))
    assert diagnoses.vhost_message("nope", "qtask") == (
        'vhost "nope" does not exist or user "qtask" may not use it'
    )


async def test_a_port_nobody_listens_on_is_told_from_a_silent_one() -> None:
    assert not await diagnoses.accepts_connections("127.0.0.1", 1)
    assert (
        diagnoses.silence("h:1", 3.0, False) == "no connection to h:1 could be opened within 3.0 s"
    )
    assert diagnoses.silence("h:1", 3.0, True) == (
        "h:1 accepts connections but sent no answer within 3.0 s"
    )
