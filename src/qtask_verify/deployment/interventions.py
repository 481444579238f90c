"""Changing the deployment on purpose, and always putting it back.

Every step that stops or kills a component goes through :func:`taken_down`: an async context
manager that restores the component on the way out, after success, failure or cancellation
alike. Restoring means more than running the
controller's ``start``: the deployment must be whole again (the API healthy, workers consuming
the task queue as before), or the restore fails with a diagnosis naming the component.
:meth:`Intervention.restore` is idempotent, so a scenario may restore early (to check what
happens next) and still leave the final word to the context manager.

Every change is written to the intervention journal before the controller is asked to make it,
with the pid of each command, and marked undone once the ``start`` succeeded, so a run that dies
at any moment leaves the next one what it must finish. A ``start`` waits for the command that
took the component down to have finished (it is never killed, see ``controller``). Once the run
must stop (Ctrl-C, SIGTERM), restoring has the interruption's bound and checks no more than the
``start`` itself: a start still running at the bound goes on alone, and the journal keeps the
change open until a later run has seen it done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..clients import ApiClient, BrokerInspector
from ..config import Environment
from ..errors import Component, ControllerError, DeploymentFault, require
from ..interruption import restore_bound_s
from ..waiting import poll_until
from .controller import Action, DeploymentController, DeploymentPart, PendingAction
from .journal import Change, InterventionJournal, JournalEntry
from .probes import describe_health, health_when, is_healthy, live_consumers, live_messages

COMPONENT_OF_PART: dict[DeploymentPart, Component] = {
    "api": "api",
    "worker": "workers",
    "database": "database",
    "broker": "queue",
}
# Consumer counts come from a passive queue declaration: cheap, so they are asked often, and a
# worker's return is seen within tens of milliseconds.
CONSUMERS_POLL_S = 0.05


@dataclass
class Intervention:
    """One component taken down by the suite, and what it takes to have it back.

    ``consumers_after``: whether workers must consume the task queue once it is restored (a
    broker restarted while the suite holds the workers stopped has none). ``on_restored`` runs
    once the deployment is whole again.
    """

    controller: DeploymentController
    part: DeploymentPart
    api: ApiClient
    broker: BrokerInspector
    environment: Environment
    journal: InterventionJournal
    consumers_after: bool = True
    on_restored: Callable[[], None] = field(default=lambda: None)
    down: bool = False
    consumers_before: int = 0
    _entry: JournalEntry | None = None
    _taking_down: PendingAction | None = None

    @property
    def component(self) -> Component:
        return COMPONENT_OF_PART[self.part]

    @property
    def _queue_name(self) -> str:
        return self.environment.expectations.queue_name

    def adopt(self, entry: JournalEntry) -> None:
        """Take over a change a dead run left open: :meth:`restore` undoes and records it."""
        self._entry = entry
        self.down = True

    async def take_down(self, action: Action) -> None:
        """``stop`` or ``kill`` the component; for workers, wait until none consumes."""
        if self.part == "worker":
            self.consumers_before = max(await live_consumers(self.broker, self._queue_name), 0)
        self._entry = self.journal.intend(Change.component(self.part, action))
        self.down = True
        self._taking_down = await self._begin(action)
        await self._taking_down.wait()
        self._taking_down = None
        if self.part == "worker":
            await self._require_consumers(lambda n: n == 0, "stop consuming")

    async def restore(self) -> None:
        """Start the component again and wait until the deployment is whole."""
        await (await self.restore_in_background())

    async def restore_in_background(self) -> Awaitable[None]:
        """Start the component now; the returned awaitable ends once the deployment is whole.

        The controller's command runs as its own process, so the return makes progress while
        the caller does other things.
        """
        if not self.down:
            return _nothing()
        bound_s = restore_bound_s()
        if bound_s is not None:
            return self._started_within(bound_s)
        await self._taken_down_finished(self.environment.thresholds.recovery_s)
        pending = await self._begin("start")
        self.down = False
        return self._whole_after(pending)

    async def _begin(self, action: Action) -> PendingAction:
        pending = await self.controller.begin(action, self.part)
        if self._entry is not None:
            self.journal.command(self._entry, pending.pid)
        return pending

    async def _taken_down_finished(self, within_s: float) -> None:
        """Wait for the command that took the component down (a cancelled wait left it running)."""
        taking_down, self._taking_down = self._taking_down, None
        if taking_down is None or taking_down.finished:
            return
        # Its failure, if any, was take_down's to report; what matters now is that it ended.
        with contextlib.suppress(ControllerError):
            async with asyncio.timeout(within_s):
                await taking_down.wait()

    async def _started_within(self, bound_s: float) -> None:
        """The run must stop: run ``start`` within ``bound_s``, nothing more (see the module).

        What does not finish in time stays open in the journal, and the run says so as it ends;
        raising here would hide the interruption itself.
        """
        try:
            async with asyncio.timeout(bound_s):
                await self._taken_down_finished(bound_s)
                pending = await self._begin("start")
                self.down = False
                await pending.wait()
        except (TimeoutError, ControllerError):
            return
        self._undone()

    def _undone(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self.journal.undone(entry)

    async def _whole_after(self, pending: PendingAction) -> None:
        await pending.wait()
        self._undone()
        recovery_s = self.environment.thresholds.recovery_s
        healthy = await health_when(self.api, is_healthy, recovery_s)
        if not is_healthy(healthy):
            raise DeploymentFault(
                self.component,
                f"the deployment did not recover within {recovery_s:.0f} s of starting the "
                f"{self.part} again: {describe_health(healthy)}",
            )
        # Also waits until the suite's own broker connection is back after a broker restart.
        minimum = 0
        if self.consumers_after:
            minimum = max(self.consumers_before, self.environment.expectations.min_consumers)
        await self._require_consumers(lambda n: n >= minimum, "consume again")
        self.on_restored()

    async def _require_consumers(self, done: Callable[[int], bool], what: str) -> None:
        recovery_s = self.environment.thresholds.recovery_s
        consumers = await poll_until(
            lambda: live_consumers(self.broker, self._queue_name),
            lambda n: n >= 0 and done(n),
            recovery_s,
            max_delay_s=CONSUMERS_POLL_S,
        )
        if not consumers.satisfied:
            raise DeploymentFault(
                "workers",
                f"the workers did not {what} within {recovery_s:.0f} s "
                f"({self._queue_name} has {max(consumers.value, 0)} consumers)",
            )


async def _nothing() -> None:
    return None


@asynccontextmanager
async def taken_down(intervention: Intervention, action: Action) -> AsyncIterator[Intervention]:
    """``stop`` or ``kill`` the component; on the way out it is back and the deployment whole."""
    try:
        await intervention.take_down(action)
        yield intervention
    finally:
        await intervention.restore()


@dataclass(frozen=True)
class Interventions:
    """What every intervention of a run shares; :meth:`of` names the component to change."""

    controller: DeploymentController
    api: ApiClient
    broker: BrokerInspector
    environment: Environment
    journal: InterventionJournal
    on_restored: Callable[[], None] = field(default=lambda: None)

    def of(self, part: DeploymentPart, *, consumers_after: bool = True) -> Intervention:
        return Intervention(
            self.controller,
            part,
            self.api,
            self.broker,
            self.environment,
            self.journal,
            consumers_after=consumers_after,
            on_restored=self.on_restored,
        )


async def restart_with_waiting_messages(
    broker_restart: Intervention, broker: BrokerInspector, queue_name: str, count: int
) -> None:
    """Restart the broker while ``count`` accepted tasks wait; every message must survive."""
    waiting = await live_messages(broker, queue_name)
    require(
        waiting >= count,
        "queue",
        f"{count} tasks were accepted but {queue_name} holds {waiting} message(s) with no "
        "worker consuming",
    )
    async with taken_down(broker_restart, "stop"):
        pass
    after = await live_messages(broker, queue_name)
    require(
        after >= count,
        "queue",
        f"after a broker restart {queue_name} holds {max(after, 0)} of the {count} "
        "waiting messages: the queue is not durable or the messages were not persistent",
    )
