"""What a deployment is expected to look like, and how to reach it: the profile's typed model.

Everything a scenario compares against (Alembic head, index names, queue name, thresholds) is
part of the environment, so another implementation of the contract is verified by configuration
alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..redaction import Redactor, mask_url


@dataclass(frozen=True)
class IndexExpectation:
    table: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Expectations:
    """What the deployment's schema and broker must look like."""

    alembic_head: str = "0002"
    task_statuses: tuple[str, ...] = ("pending", "processing", "completed", "failed")
    status_type: str = "task_status"
    queue_name: str = "quantum_tasks"
    dead_letter_exchange: str = "quantum_tasks.dlx"
    dead_letter_routing_key: str = "quantum_tasks.dlq"
    dead_letter_queue: str = "quantum_tasks.dlq"
    min_consumers: int = 1
    history_foreign_key: str = "fk_status_history_task_id_tasks"
    max_body_bytes: int = 1_048_576
    max_shots: int = 100_000
    indexes: Mapping[str, IndexExpectation] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    """Time and statistics limits the scenarios assert against."""

    health_s: float = 2.0
    submission_ms: float = 500.0
    processing_s: float = 10.0
    end_to_end_s: float = 10.0
    concurrent_count: int = 10
    concurrent_accept_s: float = 1.0
    concurrent_complete_s: float = 30.0
    bell_sigma: float = 5.0
    stalled_consumers_s: float = 2.0
    recovery_s: float = 60.0
    outage_visible_s: float = 10.0
    recent_window_s: float = 900.0
    stuck_task_s: float = 300.0
    dead_letter_window_s: float = 60.0


@dataclass(frozen=True)
class ControllerSettings:
    """Commands that change the deployment; ``{component}`` is api|worker|database|broker."""

    stop: str | None = None
    start: str | None = None
    kill: str | None = None
    timeout_s: float = 60.0
    working_directory: Path = Path()


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
    # The suite's accounts may only read (a production profile): the preflight proves it, and
    # mutating scenarios, which delete the tasks they create, cannot be allowed with it.
    read_only_account: bool = False
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
