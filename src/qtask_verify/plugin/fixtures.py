"""The fixtures every step may ask for: the deployment's clients, the run's knowledge of it,
the controller, the cleanup ledger and the deployment lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from .. import bdd, interruption
from ..checks.consumers import ConsumerWatch
from ..clients import ApiClient, BrokerInspector, DatabaseInspector
from ..clients.tracing import MessageTrace, TraceUnavailable
from ..config import Environment
from ..deployment.controller import CommandController, controller_for
from ..deployment.interventions import Interventions
from ..deployment.journal import InterventionJournal
from ..deployment.ledger import CleanupLedger, ScenarioTasks
from ..errors import ControllerError
from . import recovery, tracing
from .lock import hold_deployment
from .startup import cleanup_ledger_of, environment_of, state_directory, unconsumed_since


@pytest.fixture(scope="session")
def qtask_runner() -> Iterator[asyncio.Runner]:
    """The one event loop every async step and fixture of this process runs on."""
    with interruption.SessionRunner() as runner:
        yield runner


@pytest.fixture(scope="session")
def environment(pytestconfig: pytest.Config) -> Environment:
    """The deployment under test and its expectations."""
    return environment_of(pytestconfig)


@bdd.fixture(scope="session")
async def api(environment: Environment) -> AsyncIterator[ApiClient]:
    client = ApiClient(environment.api_url)
    yield client
    await client.aclose()


@bdd.fixture(scope="session")
async def database(environment: Environment) -> AsyncIterator[DatabaseInspector]:
    inspector = await DatabaseInspector.connect(environment.database_url)
    yield inspector
    await inspector.close()


@bdd.fixture(scope="session")
async def broker(environment: Environment) -> AsyncIterator[BrokerInspector]:
    inspector = BrokerInspector(
        environment.management_url,
        environment.management_user,
        environment.management_password,
        environment.amqp_url,
    )
    yield inspector
    await inspector.aclose()


@bdd.fixture(scope="session")
async def message_trace(
    pytestconfig: pytest.Config, environment: Environment
) -> AsyncIterator[MessageTrace]:
    """Every message the broker published and delivered on the vhost from now on (its tracing);
    where the run cannot have it, the scenarios that ask are skipped with the reason."""
    reason = tracing.unavailable(pytestconfig)
    if reason is not None:
        pytest.skip(f"not verified: {reason}")
    try:
        trace = await MessageTrace.open(environment.amqp_url)
    except TraceUnavailable as error:
        pytest.skip(f"not verified: {environment.redactor()(str(error))}")
    yield trace
    await trace.close()


@pytest.fixture(autouse=True)
def message_trace_first(request: pytest.FixtureRequest) -> None:
    """A scenario tagged @needs_tracing has the trace open before its first step: a message
    published before it opened would never be seen."""
    if request.node.get_closest_marker("needs_tracing") is not None:
        request.getfixturevalue("message_trace")


@pytest.fixture(scope="session")
def consumer_watch(pytestconfig: pytest.Config) -> ConsumerWatch:
    """The run's knowledge of the task queue's consumers, seeded with the preflight's count."""
    watch = ConsumerWatch()
    since = unconsumed_since(pytestconfig)
    if since is not None:
        watch.observe(0, at=time.monotonic() - max(time.time() - since, 0.0))
    return watch


@pytest.fixture(scope="session")
def controller(environment: Environment) -> CommandController | None:
    return controller_for(environment.controller, environment.redactor())


@pytest.fixture(scope="session")
def intervention_journal(
    pytestconfig: pytest.Config, environment: Environment
) -> InterventionJournal:
    """Where every change to the deployment is recorded before it is made (see ``journal``)."""
    return recovery.journal_of(pytestconfig, state_directory(pytestconfig), environment.name)


@pytest.fixture(scope="session")
def interventions(
    controller: CommandController | None,
    api: ApiClient,
    broker: BrokerInspector,
    environment: Environment,
    consumer_watch: ConsumerWatch,
    intervention_journal: InterventionJournal,
) -> Interventions:
    """How scenarios change the deployment (only those that need a controller ask for it)."""
    if controller is None:
        raise ControllerError(f"environment {environment.name!r} has no deployment controller")
    return Interventions(
        controller,
        api,
        broker,
        environment,
        intervention_journal,
        on_restored=consumer_watch.reset,
    )


@pytest.fixture(scope="session")
def cleanup_ledger(pytestconfig: pytest.Config) -> CleanupLedger:
    return cleanup_ledger_of(pytestconfig)


@bdd.fixture()
async def scenario_tasks(
    cleanup_ledger: CleanupLedger, api: ApiClient, database: DatabaseInspector
) -> AsyncIterator[ScenarioTasks]:
    """The scenario's submissions, deleted with their history at teardown.

    Teardown runs whether the scenario passed, failed or was interrupted; if the process is
    killed instead, the next run's sweep deletes them.
    """
    tasks = ScenarioTasks(cleanup_ledger, api)
    yield tasks
    await tasks.delete_all(database)


@pytest.fixture(autouse=True)
def deployment_lock(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Iterator[None]:
    """Scenarios that change the deployment run alone (see ``plugin.lock``)."""
    exclusive = request.node.get_closest_marker("needs_controller") is not None
    yield from hold_deployment(pytestconfig, exclusive)
