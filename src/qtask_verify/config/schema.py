"""What a deployment is expected to look like, and how to reach it: the profile's typed model.

Everything a scenario compares against (Alembic head, index names, queue name, thresholds) is
part of the environment, so another implementation of the contract is verified by configuration
alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from ..redaction import Redactor, mask_url

# TOML gives lists; a tuple keeps a profile's values immutable.
Names = Annotated[tuple[str, ...], Field(strict=False)]


class Section(BaseModel):
    """A table of the environments file: typed, strict (no string for a number, no 1 for true),
    and closed (an unknown key is an error, see ``loading``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class IndexExpectation(Section):
    """An index the contract asks for: matched by its table and columns; by name only where a
    profile gives one (another implementation may name it differently)."""

    table: str
    columns: Names
    name: str | None = None


CONTRACT_INDEXES = (
    IndexExpectation(table="tasks", columns=("current_status",)),
    IndexExpectation(table="tasks", columns=("submitted_at",)),
    IndexExpectation(table="status_history", columns=("task_id", "transitioned_at")),
)


class Expectations(Section):
    """What the deployment's schema, broker and API must look like: the contract's defaults,
    which a profile replaces key by key where the contract leaves a choice open."""

    # The Alembic revision the database must be at (alembic_version's one row).
    alembic_head: str = "0002"
    task_statuses: Names = ("pending", "processing", "completed", "failed")
    # The enum type of the statuses: found by structure (the type of tasks.current_status) unless
    # a profile names it.
    status_type: str | None = None
    queue_name: str = "quantum_tasks"
    dead_letter_exchange: str = "quantum_tasks.dlx"
    dead_letter_routing_key: str = "quantum_tasks.dlq"
    dead_letter_queue: str = "quantum_tasks.dlq"
    min_consumers: int = Field(default=1, ge=0)
    # status_history(task_id) -> tasks(task_id): matched by columns unless a profile names it.
    history_foreign_key: str | None = None
    # A larger request body must be refused as invalid.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # More shots must be refused as invalid.
    max_shots: int = Field(default=100_000, ge=1)
    indexes: tuple[IndexExpectation, ...] = Field(default=CONTRACT_INDEXES, strict=False)


class Thresholds(Section):
    """Time and statistics limits the scenarios assert against."""

    health_s: float = 2.0  # GET /health answers within
    submission_ms: float = 500.0  # p95 of single submissions
    processing_s: float = 10.0  # a submitted task reaches completed/failed within
    end_to_end_s: float = 10.0  # p95 of submit -> completed
    concurrent_count: int = Field(default=10, ge=1)  # submissions sent at once
    concurrent_accept_s: float = 1.0  # all of them accepted within
    concurrent_complete_s: float = 30.0  # all of them completed within
    bell_sigma: float = 5.0  # a Bell outcome may deviate from shots/2 by this many sigmas
    stalled_consumers_s: float = 2.0  # a task pending with 0 consumers this long fails at once
    recovery_s: float = 60.0  # a component the suite restarted is back and consumed within
    outage_visible_s: float = 10.0  # /health reports a dependency the suite stopped within
    recent_window_s: float = 900.0  # real tasks submitted this recently are looked at
    stuck_task_s: float = 300.0  # a real task pending or processing for longer is stuck
    dead_letter_window_s: float = 60.0  # the dead-letter queue must not have grown over this
    # The chance that one known-answer distribution check fails a healthy deployment.
    known_answer_false_alarm: float = Field(default=1e-6, gt=0, lt=1)
    # The broker's queues report their counts, and its Management API collects them, at least
    # this often (the longest of RabbitMQ's collect_statistics_interval, a quorum queue's tick
    # and the smallest interval of its sample_retention_policies; 5 s by default): a count newer
    # than an event is read two of these after it.
    statistics_interval_s: float = Field(default=5.0, gt=0)
    status_read_ms: float = 200.0  # p95 of reading a finished task's status (GET /tasks/{id})


class ControllerSettings(Section):
    """Commands that change the deployment; ``{component}`` is api|worker|database|broker, and
    ``{state}`` in ``trace`` is on|off (the vhost's message tracing, an administrator's act)."""

    stop: str | None = None
    start: str | None = None
    kill: str | None = None
    trace: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    working_directory: Path = Field(default=Path(), strict=False)


# How the suite may use the broker's message tracing (the firehose) to see the task messages:
# "off" never (its scenarios are not run by policy); "observe" where the vhost already traces;
# "switch" also switches it on for the run (the controller's `trace` command, else the
# Management API account) and off again afterwards. Off unless a profile opts in: tracing costs
# the broker throughput.
MessageTracing = Literal["off", "observe", "switch"]


class Profile(Section):
    """One ``[profiles.NAME]`` table. URLs and credentials may come from the environment
    instead (``loading``); policies say what the suite may do there."""

    description: str = ""
    env_file: str | None = None
    api_url: str | None = None
    database_url: str | None = None
    amqp_url: str | None = None
    management_url: str | None = None
    management_user: str | None = None
    management_password: str | None = None
    # Scenarios that submit tasks (and delete them afterwards) may run.
    allow_mutating: bool = False
    # @disruptive scenarios may stop, pause or restart components.
    allow_disruption: bool = False
    # Real users submit tasks there: @live_traffic scenarios look at their recent tasks.
    live_traffic: bool = False
    # The suite's accounts may only read: the preflight proves it, and mutating scenarios,
    # which delete the tasks they create, cannot be allowed with it.
    read_only_account: bool = False
    message_tracing: MessageTracing = "off"
    expectations: Expectations = Expectations()
    thresholds: Thresholds = Thresholds()
    controller: ControllerSettings | None = None


@dataclass(frozen=True)
class Environment:
    """One deployment to verify: where it is, what it may be asked to do, what it must look like."""

    name: str
    api_url: str
    database_url: str
    amqp_url: str
    management_url: str
    management_user: str | None
    management_password: str | None
    allow_mutating: bool
    expectations: Expectations
    thresholds: Thresholds
    controller: ControllerSettings | None = None
    allow_disruption: bool = False
    live_traffic: bool = False
    read_only_account: bool = False  # the policies' meanings: see Profile
    message_tracing: MessageTracing = "off"
    description: str = ""
    source: Path | None = None

    def __repr__(self) -> str:
        urls = ", ".join(f"{key}={value!r}" for key, value in self.masked_urls().items())
        return f"Environment(name={self.name!r}, {urls}, allow_mutating={self.allow_mutating})"

    @property
    def secrets(self) -> list[str]:
        """Every password this environment knows, for :class:`Redactor`."""
        found = [self.management_password]
        for url in (self.api_url, self.database_url, self.amqp_url, self.management_url):
            password = urlsplit(url).password
            if password:
                found += [password, unquote(password)]
        return [secret for secret in found if secret]

    def redactor(self) -> Redactor:
        return Redactor(self.secrets)

    def masked_urls(self) -> dict[str, str]:
        """The URLs with passwords masked, as the run record shows them."""
        return {
            "api_url": mask_url(self.api_url),
            "database_url": mask_url(self.database_url),
            "amqp_url": mask_url(self.amqp_url),
            "management_url": mask_url(self.management_url),
        }
