"""An exception no check anticipated becomes a diagnosis: a component and one plain sentence.

For each client (database, API, broker) a step meets a real error of its library, or an answer of
an unexpected shape, through the suite's step wrappers; the raw error stays in the detail.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import aiormq
import asyncpg
import httpx
import pytest

from qtask_verify import bdd
from qtask_verify.clients import ApiClient, BrokerInspector, DatabaseInspector
from qtask_verify.errors import (
    ConfigurationError,
    DeploymentFault,
    unexpected_fault,
)
from qtask_verify.reports.plugin import ReportingPlugin

pytest_plugins = ("pytester",)

API = "http://api.test:8001"
MANAGEMENT = "http://broker.test:15672"


def _request(path: str, base: str = API) -> httpx.Request:
    return httpx.Request("GET", base + path)


CASES: list[tuple[BaseException, str, str]] = [
    (
        asyncpg.exceptions.UndefinedColumnError('column "started_at" does not exist'),
        "database",
        "the database has no column started_at that this step reads",
    ),
    (
        asyncpg.exceptions.UndefinedTableError('relation "tasks" does not exist'),
        "database",
        "the database has no table tasks that this step reads",
    ),
    (
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table tasks"),
        "database",
        "the suite's database account is not allowed what this step needs",
    ),
    (
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        "database",
        "the connection to the database was refused or lost during this step",
    ),
    (
        httpx.ReadTimeout("timed out", request=_request("/tasks/1")),
        "api",
        "the API did not answer in time",
    ),
    (
        httpx.ConnectError("[Errno 111] Connection refused", request=_request("/health")),
        "api",
        "the API could not be reached, or dropped the connection",
    ),
    (
        httpx.ConnectError("refused", request=_request("/api/queues/%2F/q", MANAGEMENT)),
        "queue",
        "the broker's Management API could not be reached, or dropped the connection",
    ),
    (
        aiormq.exceptions.ChannelNotFoundEntity(
            "NOT_FOUND - no queue 'quantum_tasks' in vhost '/'"
        ),
        "queue",
        "the broker has no queue quantum_tasks that this step uses",
    ),
    (
        aiormq.exceptions.ChannelAccessRefused("ACCESS_REFUSED - access to queue 'q' refused"),
        "queue",
        "the suite's broker account is not allowed what this step needs",
    ),
    (
        aiormq.exceptions.ConnectionClosed(320, "CONNECTION_FORCED - broker forced close"),
        "queue",
        "the connection to the broker was refused or closed during this step",
    ),
]


@pytest.mark.parametrize(("error", "component", "sentence"), CASES)
def test_a_driver_error_names_its_component_in_one_sentence(
    error: BaseException, component: str, sentence: str
) -> None:
    fault = unexpected_fault(error, "workers")  # the library wins over the scenario's tag
    assert fault is not None
    assert (fault.component, fault.diagnosis) == (component, sentence)
    assert fault.detail is not None and str(error) in fault.detail
    assert fault.__cause__ is error


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (KeyError("result"), "an answer of the API has no field 'result', which this step reads"),
        (IndexError("list index out of range"), "an answer of the API has fewer items than"),
        (json.JSONDecodeError("Expecting value", "<html>", 0), "the API answered something that"),
        (TypeError("'NoneType' object is not subscriptable"), "an answer of the API does not"),
        (TimeoutError(), "the API did not answer in time"),
        (ConnectionRefusedError(111, "Connection refused"), "the connection to the API failed"),
    ],
)
def test_a_shape_or_connection_error_takes_the_scenarios_component(
    error: BaseException, sentence: str
) -> None:
    fault = unexpected_fault(error, "api")
    assert fault is not None and fault.component == "api"
    assert fault.diagnosis.startswith(sentence)
    assert unexpected_fault(error) is None  # without a component tag it stays a suite error


@pytest.mark.parametrize(
    "error",
    [
        DeploymentFault("api", "already diagnosed"),
        ConfigurationError("bad profile"),
        AssertionError("a plain assert"),
        RuntimeError("a bug of the suite"),
    ],
)
def test_the_suites_own_errors_are_left_alone(error: BaseException) -> None:
    assert unexpected_fault(error, "api") is None


# --- through the step wrappers, with each client --------------------------------------------


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


def _scenario_tagged(*tags: str) -> Any:
    markers = [SimpleNamespace(name=tag) for tag in tags]
    return SimpleNamespace(node=SimpleNamespace(iter_markers=lambda: iter(markers)))


def _run_step(runner: asyncio.Runner, step: Callable[..., Any], *tags: str, **kwargs: Any) -> None:
    wrapped = bdd.diagnosing(bdd.on_runner(step))
    wrapped(qtask_runner=runner, request=_scenario_tagged("p1", *tags), **kwargs)


class RefusingPool:
    """A pool whose queries fail as PostgreSQL would on a schema without the column."""

    async def fetch(self, query: str, *args: Any, **options: Any) -> list[Any]:
        raise asyncpg.exceptions.UndefinedColumnError('column "circuit" does not exist')


def test_a_database_step_meeting_a_driver_error_fails_with_a_diagnosis(
    runner: asyncio.Runner,
) -> None:
    async def step(database: DatabaseInspector) -> None:
        await database.task_ids_marked(["qtask-verify:x"])

    database = DatabaseInspector(RefusingPool(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(DeploymentFault) as caught:
        _run_step(runner, step, "workers", database=database)
    assert str(caught.value) == "database: the database has no column circuit that this step reads"
    assert caught.value.detail == (
        'asyncpg.exceptions.UndefinedColumnError: column "circuit" does not exist'
    )


def _api(handler: Callable[[httpx.Request], httpx.Response]) -> ApiClient:
    api = ApiClient(API)
    api._http = httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(handler))
    return api


def test_an_api_step_meeting_an_unexpected_shape_fails_with_a_diagnosis(
    runner: asyncio.Runner,
) -> None:
    api = _api(lambda request: httpx.Response(200, json={"status": "completed"}))

    async def step(api: ApiClient) -> None:
        answer = await api.get_task(str(uuid.uuid4()))
        assert sum(answer.body["result"].values()) == 100

    with pytest.raises(DeploymentFault) as caught:
        _run_step(runner, step, "api", api=api)
    assert str(caught.value) == (
        "api: an answer of the API has no field 'result', which this step reads"
    )
    assert caught.value.detail == "builtins.KeyError: 'result'"


def test_a_sync_step_is_diagnosed_too() -> None:
    def step(body: dict[str, Any]) -> None:
        assert body["counts"]["00"] > 0

    wrapped = bdd.diagnosing(step)
    with pytest.raises(DeploymentFault, match=r"^api: an answer of the API has no field 'counts'"):
        wrapped(body={}, request=_scenario_tagged("api"))


def test_a_step_with_teardown_still_sets_up_and_tears_down(runner: asyncio.Runner) -> None:
    """pytest-bdd runs a generator step as a fixture: the wrapper must stay a generator."""
    happened: list[str] = []

    async def paused(broker: object) -> Any:
        happened.append("paused")
        yield
        happened.append("resumed")

    wrapped = bdd.diagnosing(bdd.on_runner(paused))
    assert inspect.isgeneratorfunction(wrapped)
    steps = wrapped(broker=None, qtask_runner=runner, request=_scenario_tagged("queue"))
    next(steps)
    assert happened == ["paused"]
    with pytest.raises(StopIteration):
        next(steps)
    assert happened == ["paused", "resumed"]

    async def refused(broker: object) -> Any:
        raise aiormq.exceptions.ChannelAccessRefused("ACCESS_REFUSED - no")
        yield

    wrapped = bdd.diagnosing(bdd.on_runner(refused))
    with pytest.raises(DeploymentFault, match=r"^queue: the suite's broker account is not allowed"):
        next(wrapped(broker=None, qtask_runner=runner, request=_scenario_tagged("api")))


def _broker(handler: Callable[[httpx.Request], httpx.Response]) -> BrokerInspector:
    broker = BrokerInspector(MANAGEMENT, "guest", "guest", "amqp://guest:guest@broker.test/")
    broker._http = httpx.AsyncClient(base_url=MANAGEMENT, transport=httpx.MockTransport(handler))
    return broker


@pytest.mark.parametrize(
    ("answer", "diagnosis"),
    [
        (
            httpx.Response(200, json={"durable": True}),
            "queue: an answer of the broker has no field 'name', which this step reads",
        ),
        (
            httpx.Response(200, text="<html>maintenance</html>"),
            "queue: the broker answered something that is not valid JSON",
        ),
    ],
)
def test_a_broker_step_meeting_an_unexpected_answer_fails_with_a_diagnosis(
    runner: asyncio.Runner, answer: httpx.Response, diagnosis: str
) -> None:
    broker = _broker(lambda request: answer)

    async def step(broker: BrokerInspector) -> None:
        await broker.queue("quantum_tasks")

    with pytest.raises(DeploymentFault) as caught:
        _run_step(runner, step, "queue", broker=broker)
    assert str(caught.value) == diagnosis


def test_a_broker_driver_error_fails_with_a_diagnosis(runner: asyncio.Runner) -> None:
    async def step() -> None:
        raise aiormq.exceptions.ChannelNotFoundEntity(
            "NOT_FOUND - no queue 'quantum_tasks.dlq' in vhost '/'"
        )

    with pytest.raises(DeploymentFault) as caught:
        _run_step(runner, step, "api")
    assert (
        str(caught.value) == "queue: the broker has no queue quantum_tasks.dlq that this step uses"
    )


def test_the_wrapper_asks_for_the_request_and_keeps_a_steps_own() -> None:
    async def step(api: ApiClient) -> None: ...

    def own(request: Any, api: ApiClient) -> None: ...

    assert list(bdd.diagnosing(bdd.on_runner(step)).__signature__.parameters) == [  # type: ignore[attr-defined]
        "api",
        "qtask_runner",
        "request",
    ]
    assert list(bdd.diagnosing(own).__signature__.parameters) == ["request", "api"]  # type: ignore[attr-defined]


def test_the_report_diagnoses_a_driver_error_that_escaped_a_fixture() -> None:
    plugin = SimpleNamespace(redact=lambda text: text)
    error = asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table tasks")
    fault = ReportingPlugin._fault(plugin, error)  # type: ignore[arg-type]
    assert fault["component"] == "database"
    assert fault["message"] == "the suite's database account is not allowed what this step needs"
    assert fault["detail"] == (
        "asyncpg.exceptions.InsufficientPrivilegeError: permission denied for table tasks"
    )
    bug = ReportingPlugin._fault(plugin, RuntimeError("a bug"))  # type: ignore[arg-type]
    assert (bug["component"], bug["message"]) == (None, "RuntimeError: a bug")


# --- end to end through pytest-bdd ------------------------------------------------------------


def test_a_gherkin_step_failing_in_the_driver_reports_the_diagnosis(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".feature",
        shape=textwrap.dedent(
            """\
            Feature: Shape
              @database
              Scenario: A task is read
                Then the task is read
            """
        ),
    )
    pytester.makepyfile(
        test_shape=textwrap.dedent(
            """\
            import asyncio

            import asyncpg
            import pytest
            from pytest_bdd import scenarios

            from qtask_verify.bdd import then

            scenarios("shape.feature")


            @pytest.fixture(scope="session")
            def qtask_runner():
                with asyncio.Runner() as runner:
                    yield runner


            @then("the task is read")
            async def _():
                raise asyncpg.exceptions.UndefinedColumnError('column "started_at" does not exist')
            """
        ),
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*DeploymentFault: database: the database has no column started_at that this step reads"]
    )
