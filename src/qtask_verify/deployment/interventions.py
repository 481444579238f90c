"""Changing the deployment on purpose, and always putting it back.

Every step that stops, kills or pauses a component goes through :func:`taken_down` or
:func:`workers_paused`: async context managers that restore the component on the way out,
after success, failure or cancellation alike. Restoring means more than running the
controller's ``start``: the deployment must be whole again (the API healthy, workers consuming
the task queue as before), or the restore fails with a diagnosis naming the component.
:meth:`Intervention.restore` is idempotent, so a scenario may restore early (to check what
happens next) and still leave the final word to the context manager.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..clients import ApiClient, BrokerInspector
from ..config import Environment
from ..errors import Component, DeploymentFault, require
from ..waiting import poll_until
from .controller import Action, DeploymentController, DeploymentPart, PendingAction
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
    consumers_after: bool = True
    on_restored: Callable[[], None] = field(default=lambda: None)
    down: bool = False
    consumers_before: int = 0

    @property
    def component(self) -> Component:
        return COMPONENT_OF_PART[self.part]

    @property
    def _queue_name(self) -> str:
        return self.environment.expectations.queue_name

    async def take_down(self, action: Action) -> None:
        """``stop`` or ``kill`` the component; for workers, wait until none consumes."""
        if self.part == "worker":
            self.consumers_before = max(await live_consumers(self.broker, self._queue_name), 0)
        self.down = True
        await self.controller.run(action, self.part)
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
        pending = await self.controller.begin("start", self.part)
        self.down = False
        return self._whole_after(pending)

    async def _whole_after(self, pending: PendingAction) -> None:
        await pending.wait()
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


@asynccontextmanager
async def workers_paused(
    intervention: Intervention, hand_back: Callable[[Awaitable[None]], None]
) -> AsyncIterator[Intervention]:
    """Stop the workers; on the way out start them without waiting for their return.

    Their return is handed to ``hand_back`` (the run's consumer watch), so it overlaps whatever
    needs no worker; whoever next needs a worker awaits it.
    """
    try:
        await intervention.take_down("stop")
        yield intervention
    finally:
        hand_back(await intervention.restore_in_background())


@dataclass(frozen=True)
class Interventions:
    """What every intervention of a run shares; :meth:`of` names the component to change."""

    controller: DeploymentController
    api: ApiClient
    broker: BrokerInspector
    environment: Environment
    on_restored: Callable[[], None] = field(default=lambda: None)

    def of(self, part: DeploymentPart, *, consumers_after: bool = True) -> Intervention:
        return Intervention(
            self.controller,
            part,
            self.api,
            self.broker,
            self.environment,
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
