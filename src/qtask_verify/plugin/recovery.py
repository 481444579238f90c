"""Before judging: finish what dead runs left undone, and know the deployment by its identity.

Once per run (the only process, or the xdist controller) :func:`prepare` runs the preflight,
which also tells who the deployment is; if the intervention journal holds changes a dead run
left open on it, they are undone first, one line each says so, and the preflight runs again:
only that one judges. Then, with a bound of its own, the cleanup ledger's sweep deletes the tasks
dead runs left behind. The identity reaches xdist workers through ``workerinput``; the journal
and the ledger of every process are keyed by it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from .. import interruption
from ..clients import DatabaseInspector
from ..config import Environment
from ..deployment.controller import controller_for
from ..deployment.identity import DeploymentIdentity
from ..deployment.journal import InterventionJournal
from ..deployment.ledger import CleanupLedger, ledger_path, sweep
from ..deployment.preflight import PreflightReport, run_preflight
from ..deployment.restoration import finish_abandoned
from ..errors import QtaskVerifyError

IDENTITY_KEY = pytest.StashKey[DeploymentIdentity]()
SWEPT_TASKS_KEY = pytest.StashKey[int]()
IDENTITY_INPUT = "qtask_identity"
# The sweep runs after the preflight (which it never delays) and never holds a run up for long:
# what it does not finish stays in the ledger for the next run.
SWEEP_WITHIN_S = 10.0


def prepare(
    config: pytest.Config,
    env: Environment,
    timeout_s: float,
    directory: Path,
    say: Callable[[str], None],
) -> PreflightReport:
    """Preflight, restore what dead runs left (then preflight again), sweep: the report to judge."""
    report = asyncio.run(run_preflight(env, timeout_s))
    journal = InterventionJournal.in_directory(directory, report.identity, env.name)
    if journal.abandoned():
        controller = controller_for(env.controller, env.redactor())
        restoration = asyncio.run(finish_abandoned(journal, env, controller))
        for line in restoration.lines:
            say(f"qtask-verify: {line}")
        report = asyncio.run(run_preflight(env, timeout_s))
    journal.compact()
    config.stash[IDENTITY_KEY] = _better_known(report.identity, journal.identity)
    interruption.on_stop_at_once(journal_of(config, directory, env.name).left_by_this_run)
    if report.ok and env.allow_mutating:
        swept = asyncio.run(_sweep(env, ledger_of(config, directory), say))
        if swept is not None:
            config.stash[SWEPT_TASKS_KEY] = swept
    return report


def _better_known(now: DeploymentIdentity, before: DeploymentIdentity) -> DeploymentIdentity:
    """Each part as the last preflight saw it, else as the first one did."""
    return DeploymentIdentity(now.database or before.database, now.broker or before.broker)


async def _sweep(env: Environment, ledger: CleanupLedger, say: Callable[[str], None]) -> int | None:
    """Delete what dead runs left behind, within its own bound; None when it could not."""
    try:
        async with asyncio.timeout(SWEEP_WITHIN_S):
            database = await DatabaseInspector.connect(env.database_url, timeout_s=5.0)
            try:
                return await sweep(ledger, database)
            finally:
                await database.close()
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        say(
            "qtask-verify: the tasks dead runs left behind were not all deleted "
            f"({env.redactor()(str(error) or type(error).__name__)}); the next run tries again"
        )
        return None


def identity_of(config: pytest.Config) -> DeploymentIdentity:
    """The deployment's identity: this process's preflight saw it, or the controller's did."""
    known = config.stash.get(IDENTITY_KEY, None)
    if known is not None:
        return known
    workerinput = getattr(config, "workerinput", {})
    return DeploymentIdentity.from_json(workerinput.get(IDENTITY_INPUT))


def journal_of(config: pytest.Config, directory: Path, environment: str) -> InterventionJournal:
    return InterventionJournal.in_directory(directory, identity_of(config), environment)


def ledger_of(config: pytest.Config, directory: Path) -> CleanupLedger:
    identity = identity_of(config)
    if identity.database is None:
        raise QtaskVerifyError("the database did not say who it is: no cleanup ledger to keep")
    return CleanupLedger(ledger_path(directory, identity))


def hand_to_worker(node: object) -> None:
    """Tell an xdist worker process who the deployment is."""
    config: pytest.Config = node.config  # type: ignore[attr-defined]
    identity = config.stash.get(IDENTITY_KEY, None)
    if identity is not None:
        node.workerinput[IDENTITY_INPUT] = identity.as_json()  # type: ignore[attr-defined]
