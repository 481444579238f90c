"""Configuration of the service, read from `QTASK_SERVICE_*` environment variables.

Defaults suit a developer's machine (system PostgreSQL and RabbitMQ on their standard ports);
every deployment (local stack, compose) overrides the URLs. The defaults are the reference
implementation; `VARIANT_ENVIRONMENT` turns the same code into a second implementation that
differs from it in every way the contract allows.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All knobs of the API and the worker; names are part of the deployment contract."""

    model_config = SettingsConfigDict(env_prefix="QTASK_SERVICE_", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/qtask"
    # The vhost is the URL's path (`/` when it has none).
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    log_level: str = "INFO"
    # The database and AMQP URLs carry passwords: they are never logged nor put in answers.

    # Shape: which migration history builds the schema. Every statement of the service works on
    # both ("variant": other enum, index, foreign-key and revision names, an integer history id,
    # extra columns).
    migrations: Literal["reference", "variant"] = "reference"

    # Broker topology. The dead-letter names derive from the queue's unless set.
    queue_name: str = "quantum_tasks"
    queue_type: Literal["classic", "quorum"] = "classic"
    dead_letter_exchange: str = Field(default_factory=lambda data: f"{data['queue_name']}.dlx")
    dead_letter_queue: str = Field(default_factory=lambda data: f"{data['queue_name']}.dlq")
    dead_letter_routing_key: str = Field(default_factory=lambda data: data["dead_letter_queue"])
    # Quorum queues only: the broker dead-letters a message delivered more often than this. It
    # must exceed `worker_max_attempts`, so that the worker fails the task first.
    queue_delivery_limit: int | None = Field(default=None, ge=1)

    # API
    # Larger request bodies are refused with 400 before being read whole.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A request line and headers larger than this are refused with 431, while still arriving.
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    # A request's line and headers (also a new connection's first request) must arrive within
    # this, and its body within `request_body_timeout_s` after them; a slower client gets 408
    # and its connection closed, so trickling clients cannot hold connections for long.
    request_head_timeout_s: float = Field(default=10.0, gt=0)
    request_body_timeout_s: float = Field(default=20.0, gt=0)
    # An idle keep-alive connection is closed after this.
    keep_alive_timeout_s: int = Field(default=5, ge=1)
    # Connections plus requests in progress beyond this are answered 503 at once.
    max_concurrency: int = Field(default=1000, ge=1)
    # Extra fields in answers, beyond the contract's: the variant's, never the reference's.
    api_extras: bool = False
    # uvicorn's per-request log line; off by default, it costs CPU at hundreds of requests/s.
    access_log: bool = False
    db_pool_max_size: int = Field(default=10, ge=1)
    # Every dependency call is bounded so that an outage answers 503 quickly instead of hanging.
    db_connect_timeout_s: float = Field(default=2.0, gt=0)
    db_command_timeout_s: float = Field(default=5.0, gt=0)
    amqp_connect_timeout_s: float = Field(default=2.0, gt=0)
    amqp_reconnect_interval_s: float = Field(default=1.0, gt=0)
    publish_timeout_s: float = Field(default=3.0, gt=0)
    # Each health check gets this long, run concurrently, so /health answers within 2 s.
    health_check_timeout_s: float = Field(default=1.5, gt=0, lt=2.0)

    # Circuits
    # A circuit declaring more qubits is refused at submission (400) and failed by a worker if
    # it gets one anyway: a statevector takes 16 bytes per amplitude, 256 MB at 24 qubits.
    max_qubits: int = Field(default=24, ge=1)
    # A task whose parsing and simulation take longer is failed with the reason; the simulator
    # process running it is replaced.
    execution_timeout_s: float = Field(default=60.0, gt=0)

    # Worker
    # Unacked deliveries a worker holds: enough to fill the next batch while one is processed.
    worker_prefetch: int = Field(default=32, ge=1)
    # Tasks claimed and recorded per database commit, at most.
    worker_batch_size: int = Field(default=16, ge=1)
    # A claimed task shows `processing`: claim no more at once than the worker expects to start
    # within this (from recent execution times), so no task waits long claimed but not running.
    worker_claim_window_s: float = Field(default=0.5, gt=0)
    worker_db_pool_max_size: int = Field(default=2, ge=1)
    # A task whose processing crashed the worker this many times is failed and dead-lettered.
    worker_max_attempts: int = Field(default=3, ge=1)
    # Parsed and transpiled circuits kept per worker, by source text (0 disables the cache).
    circuit_cache_size: int = Field(default=256, ge=0)

    @model_validator(mode="after")
    def _delivery_limit_above_attempts(self) -> "Settings":
        limit = self.queue_delivery_limit
        if limit is not None and limit <= self.worker_max_attempts:
            raise ValueError(
                f"queue_delivery_limit ({limit}) must exceed worker_max_attempts "
                f"({self.worker_max_attempts}): the broker would drop a task the worker retries"
            )
        return self


VARIANT_VHOST = "qtask-variant"
"""The broker vhost the variant is meant to run on (it comes from the AMQP URL's path)."""

VARIANT_ENVIRONMENT: Mapping[str, str] = MappingProxyType(
    {
        # Schema: enum `taskstatus`, indexes `idx_*`, PostgreSQL's default foreign-key name,
        # three hash-like Alembic revisions, an integer `status_history.id`, extra columns.
        "QTASK_SERVICE_MIGRATIONS": "variant",
        # Broker: a quorum queue, dead-lettering under names of its own.
        "QTASK_SERVICE_QUEUE_NAME": "circuit_jobs",
        "QTASK_SERVICE_QUEUE_TYPE": "quorum",
        "QTASK_SERVICE_DEAD_LETTER_EXCHANGE": "circuit_jobs_dead",
        "QTASK_SERVICE_DEAD_LETTER_QUEUE": "circuit_jobs_failed",
        "QTASK_SERVICE_DEAD_LETTER_ROUTING_KEY": "failed",
        "QTASK_SERVICE_QUEUE_DELIVERY_LIMIT": "10",
        # API: extra fields in every answer and in the 404 body.
        "QTASK_SERVICE_API_EXTRAS": "true",
    }
)
"""The `QTASK_SERVICE_*` settings (URLs aside) of the variant: the reference service built
differently in every way the contract allows, for the suite's self-test. Run it on
`VARIANT_VHOST` (the AMQP URL's path)."""
