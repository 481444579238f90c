"""verdict.health.json follows the IETF health check response format, so other tools can read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import RunFactory

from qtask_verify.reports.signoff import publish

SCHEMA = json.loads((Path(__file__).parent / "health-check.schema.json").read_text("utf-8"))


def _health(run: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    doc = json.loads(publish(run, tmp_path).health.read_text("utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return doc


def test_the_schema_rejects_what_the_draft_forbids() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    validator.check_schema(SCHEMA)
    bad = [
        {},
        {"status": "GO"},
        {"status": "pass", "output": "pass must not carry output"},
        {"status": "fail", "checks": {"a:b:c": [{"status": "fail"}]}},
        {"status": "fail", "checks": {"api:responseTime": [{"status": "broken"}]}},
        {"status": "fail", "checks": {"api:responseTime": [{"status": "pass", "time": "today"}]}},
    ]
    for doc in bad:
        assert not validator.is_valid(doc), doc


@pytest.mark.parametrize(
    ("verdict", "status"), [("GO", "pass"), ("GO WITH RISKS", "warn"), ("NO-GO", "fail")]
)
def test_top_level_status_follows_the_verdict(
    make_run: RunFactory, tmp_path: Path, verdict: str, status: str
) -> None:
    doc = _health(make_run("go", verdict=verdict), tmp_path)
    assert doc["status"] == status
    assert verdict in doc["description"]
    assert ("output" in doc) is (status != "pass")


def test_go_checks_cover_components_performance_and_scenarios(
    make_run: RunFactory, tmp_path: Path
) -> None:
    doc = _health(make_run("go"), tmp_path)
    assert doc["version"] == "0.1.0"
    assert set(doc["checks"]) == {
        "api:responseTime",
        "database:connection",
        "queue:connection",
        "workers:consumers",
        "performance:submissionLatency",
        "performance:endToEndTime",
        "suite:scenarios",
    }
    api = doc["checks"]["api:responseTime"][0]
    assert api == {
        "componentId": "api",
        "componentType": "component",
        "observedValue": 4.1,
        "observedUnit": "ms",
        "status": "pass",
        "time": "2026-11-23T23:40:12+00:00",
    }
    assert doc["checks"]["database:connection"][0]["componentType"] == "datastore"
    workers = doc["checks"]["workers:consumers"][0]
    assert (workers["observedValue"], workers["observedUnit"]) == (2, "consumers")


def test_nogo_checks_name_what_failed(make_run: RunFactory, tmp_path: Path) -> None:
    doc = _health(make_run("nogo"), tmp_path)
    workers = doc["checks"]["workers:consumers"][0]
    assert workers["status"] == "fail"
    assert workers["observedValue"] == 0
    assert workers["output"] == "0 consumers on quantum_tasks"
    perf = doc["checks"]["performance:endToEndTime"][0]
    assert (perf["status"], perf["observedValue"]) == ("fail", 12500.0)
    assert doc["checks"]["suite:scenarios"][0]["status"] == "fail"
    assert "A Bell circuit completes" in doc["output"]


def test_preflight_failure_is_a_valid_fail(make_run: RunFactory, tmp_path: Path) -> None:
    doc = _health(make_run("preflight"), tmp_path)
    assert doc["status"] == "fail"
    assert "version" not in doc  # no fingerprint: the API was never reached
    assert "suite:scenarios" not in doc["checks"]
    assert any("password authentication failed" in n for n in doc["notes"])
    assert doc["checks"]["database:connection"][0]["status"] == "fail"


def test_unknown_verdict_is_not_reported_as_pass(tmp_path: Path) -> None:
    assert _health({"verdict": "perhaps"}, tmp_path)["status"] == "fail"
