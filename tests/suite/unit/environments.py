"""One environment for the engine's unit tests, varied with ``dataclasses.replace``."""

from __future__ import annotations

from qtask_verify.config import Environment, Expectations, Thresholds

ENVIRONMENT = Environment(
    name="local",
    api_url="http://127.0.0.1:8001",
    database_url="postgresql://qtask:s3cret-pw@127.0.0.1:5432/qtask",
    amqp_url="amqp://qtask:s3cret-pw@127.0.0.1:5672/",
    management_url="http://127.0.0.1:15672",
    management_user="qtask",
    management_password="s3cret-pw",
    allow_mutating=True,
    expectations=Expectations(),
    thresholds=Thresholds(),
)
