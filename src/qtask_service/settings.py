"""Configuration of the service, read from `QTASK_SERVICE_*` environment variables.

Defaults suit a developer's machine (system PostgreSQL and RabbitMQ on their standard ports);
every deployment (local stack, compose) overrides the URLs.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All knobs of the API and the worker; names are part of the deployment contract."""

    model_config = SettingsConfigDict(env_prefix="QTASK_SERVICE_", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/qtask"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)
    queue_name: str = "quantum_tasks"
    log_level: str = "INFO"
    # The database and AMQP URLs carry passwords: they are never logged nor put in answers.

    # API
    # Larger request bodies are refused with 400 before being read whole.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
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

    # Worker
    # Unacked deliveries a worker holds: enough to fill the next batch while one is processed.
    worker_prefetch: int = Field(default=32, ge=1)
    # Tasks claimed and recorded per database commit.
    worker_batch_size: int = Field(default=16, ge=1)
    worker_db_pool_max_size: int = Field(default=2, ge=1)
    # A task whose processing crashed the worker this many times is failed and dead-lettered.
    worker_max_attempts: int = Field(default=3, ge=1)
    # Parsed and transpiled circuits kept per worker, by source text (0 disables the cache).
    circuit_cache_size: int = Field(default=256, ge=0)

    @property
    def dead_letter_exchange(self) -> str:
        """The DLX's name derives from the queue's, as docs/architecture.md fixes it."""
        return f"{self.queue_name}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        """The DLQ (and the routing key to it) derives from the queue's name."""
        return f"{self.queue_name}.dlq"
