"""docker-compose.yml (no Docker engine here) stays consistent with the service's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from qtask_service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "QTASK_SERVICE_"
ENTRY_POINTS = {
    "migrate": "qtask_service.db.migrate",
    "api": "qtask_service.api",
    "worker-1": "qtask_service.worker",
    "worker-2": "qtask_service.worker",
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    result: dict[str, Any] = compose["services"]
    return result


def test_the_deployment_has_every_component(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "rabbitmq", *ENTRY_POINTS}
    assert "management" in services["rabbitmq"]["image"]
    for name, module in ENTRY_POINTS.items():
        assert services[name]["command"] == ["python3", "-m", module]


def test_service_variables_are_settings(services: dict[str, Any]) -> None:
    fields = {f"{PREFIX}{name.upper()}" for name in Settings.model_fields}
    for name in ENTRY_POINTS:
        variables = set(services[name]["environment"])
        assert {f"{PREFIX}DATABASE_URL", f"{PREFIX}AMQP_URL"} <= variables
        assert variables <= fields, variables - fields


def test_ports_match_the_contract(services: dict[str, Any]) -> None:
    default_port = Settings.model_fields["port"].default
    assert services["api"]["environment"][f"{PREFIX}PORT"] == str(default_port)
    assert f"127.0.0.1:{default_port}:{default_port}" in services["api"]["ports"]
    assert "127.0.0.1:15672:15672" in services["rabbitmq"]["ports"]
    assert "127.0.0.1:5672:5672" in services["rabbitmq"]["ports"]
    database_url = services["api"]["environment"][f"{PREFIX}DATABASE_URL"]
    assert database_url.endswith("@postgres:5432/qtask")
    assert services["api"]["environment"][f"{PREFIX}QUEUE_NAME"] == "quantum_tasks"
