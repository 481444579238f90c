"""The vhost's message tracing for the run: on where the profile lets the suite see messages, and
afterwards as it was found.

RabbitMQ copies every publish and delivery of a vhost whose ``tracing`` is on to
``amq.rabbitmq.trace`` (read by ``clients.tracing``). It costs broker throughput and switching
it is an administrator's act, so the profile decides (``message_tracing``): ``off``, never;
``observe``, only where the vhost already traces; ``switch``, switched on for the run through
the controller's ``trace`` command (else with the Management API account) and off again at the
end. The switch is in the intervention journal before it is made, so a run killed meanwhile is
undone by the next (``restoration``); a vhost that already traced is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from ..clients import BrokerInspector
from ..clients._http import verify_tls
from ..config import Environment
from ..errors import DeploymentFault, QtaskVerifyError
from .controller import CommandController, DeploymentController
from .journal import Change, InterventionJournal, JournalEntry

_ERRORS = (QtaskVerifyError, OSError, TimeoutError, httpx.HTTPError)


@dataclass(frozen=True)
class RunTracing:
    """Whether the run can see the task messages: ``unavailable`` says why not (the reason the
    scenarios that need it are skipped with); ``switched`` is the journal's record of this run
    switching tracing on, to be undone at the end."""

    unavailable: str | None = None
    switched: JournalEntry | None = None


async def switch_tracing(
    environment: Environment, vhost: str, on: bool, controller: DeploymentController | None
) -> None:
    """Switch the vhost's tracing through the controller's ``trace`` command if it has one,
    else through the Management API (which allows it to administrators only)."""
    if isinstance(controller, CommandController) and controller.switches_tracing:
        await controller.switch_tracing(on)
        return
    async with httpx.AsyncClient(
        base_url=environment.management_url,
        auth=(environment.management_user or "", environment.management_password or ""),
        timeout=5.0,
        verify=verify_tls(environment.management_url),
    ) as http:
        response = await http.put(f"/api/vhosts/{quote(vhost, safe='')}", json={"tracing": on})
    if response.status_code not in (200, 201, 204):
        raise QtaskVerifyError(
            f"the Management API answered {response.status_code} to switching tracing "
            f"{'on' if on else 'off'} (it allows that to administrators only)"
        )


async def begin_run_tracing(
    environment: Environment,
    broker: BrokerInspector,
    journal: InterventionJournal,
    controller: CommandController | None,
) -> RunTracing:
    """Make the vhost trace for the run where the profile allows it; say why not otherwise."""
    policy, vhost = environment.message_tracing, broker.vhost
    if policy == "off":
        return RunTracing(
            'the profile does not let the suite trace messages (message_tracing = "off")'
        )
    try:
        traces = await broker.vhost_traces()
    except DeploymentFault as fault:
        return RunTracing(f"the broker's vhost list cannot be read: {fault.diagnosis}")
    if traces:
        return RunTracing()
    if traces is None:
        return RunTracing(f"vhost {vhost} is not in the broker's vhost list")
    if policy == "observe":
        return RunTracing(
            f"message tracing is off on vhost {vhost}, and the profile only uses it where it is "
            'on (message_tracing = "observe"; "switch" switches it on for the run)'
        )
    entry = journal.intend(Change.vhost_tracing(vhost))
    try:
        await switch_tracing(environment, vhost, True, controller)
        if not await broker.vhost_traces():
            raise QtaskVerifyError("the broker still lists it as off")
    except _ERRORS as error:
        reason = environment.redactor()(str(error) or type(error).__name__)
        await end_run_tracing(environment, broker, journal, controller, RunTracing(switched=entry))
        return RunTracing(f"message tracing could not be switched on for vhost {vhost}: {reason}")
    return RunTracing(switched=entry)


async def end_run_tracing(
    environment: Environment,
    broker: BrokerInspector,
    journal: InterventionJournal,
    controller: CommandController | None,
    run: RunTracing,
) -> str | None:
    """Switch tracing off again if this run switched it on; why it could not, if it could not
    (the journal keeps the change open, and the next run switches it off)."""
    if run.switched is None:
        return None
    try:
        await switch_tracing(environment, broker.vhost, False, controller)
    except _ERRORS as error:
        reason = environment.redactor()(str(error) or type(error).__name__)
        return f"message tracing on vhost {broker.vhost} was not switched off again: {reason}"
    journal.undone(run.switched)
    return None
