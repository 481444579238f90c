"""The verdict as an IETF health check response (`application/health+json`).

Other tools (status pages, deploy pipelines, monitoring) already read this format
(draft-inadarei-api-health-check): `status` pass|warn|fail, `checks` keyed
`"<component>:<measurement>"`, each an array of readings. Following the draft, `output` is given
only for warn and fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from qtask_verify.run.record import Component, Metric, RunRecord

MEDIA_TYPE = "application/health+json"
FILENAME = "verdict.health.json"

_VERDICT_STATUS = {"GO": "pass", "GO WITH RISKS": "warn"}  # anything else fails
_COMPONENT_STATUS = {"up": "pass", "degraded": "warn", "down": "fail", "unknown": "warn"}
# component name -> (measurement, componentType); the draft's types: component, datastore, system.
_COMPONENT_CHECK = {
    "api": ("responseTime", "component"),
    "database": ("connection", "datastore"),
    "queue": ("connection", "component"),
    "workers": ("consumers", "component"),
}


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    return (words[0].lower() + "".join(w.capitalize() for w in words[1:])) if words else "figure"


def _reading(status: str, time: str, output: str, **fields: Any) -> dict[str, Any]:
    reading = {k: v for k, v in fields.items() if v is not None}
    reading["status"] = status
    if time:
        reading["time"] = time
    if status != "pass" and output:
        reading["output"] = output
    return reading


def _component_check(c: Component, run: RunRecord, time: str) -> tuple[str, dict[str, Any]]:
    measurement, component_type = _COMPONENT_CHECK.get(c.name, ("status", "component"))
    value: Any = c.latency_ms
    unit: str | None = "ms"
    if measurement == "consumers":
        queue = run.fingerprint.get("queue")
        consumers = queue.get("consumers") if isinstance(queue, Mapping) else None
        value, unit = (consumers, "consumers") if isinstance(consumers, int) else (None, None)
    status = _COMPONENT_STATUS.get(c.status, "warn")
    reading = _reading(
        status,
        time,
        c.detail or c.status,
        componentId=c.name,
        componentType=component_type,
        observedValue=value,
        observedUnit=unit if value is not None else None,
    )
    return f"{c.name}:{measurement}", reading


def _metric_check(m: Metric, time: str) -> tuple[str, dict[str, Any]]:
    status = {True: "pass", False: "fail", None: "warn"}[m.passed]
    limit = f" (threshold {m.threshold:g} {m.unit})" if m.threshold is not None else ""
    output = f"p95 {m.p95:g} {m.unit}{limit}" if m.p95 is not None else "no measurement"
    reading = _reading(
        status,
        time,
        output,
        componentId=m.name,
        componentType="system",
        observedValue=m.p95,
        observedUnit=m.unit or None,
    )
    return f"performance:{_camel(m.name)}", reading


def _scenario_check(run: RunRecord, time: str) -> tuple[str, dict[str, Any]]:
    failed = run.counts.get("failed", 0)
    status = "fail" if failed else "warn" if run.counts.get("flaky", 0) else "pass"
    summary = ", ".join(f"{n} {k}" for k, n in run.counts.items())
    return "suite:scenarios", _reading(
        status,
        time,
        summary,
        componentType="system",
        observedValue=failed,
        observedUnit="failed scenarios",
    )


def document(run: RunRecord) -> dict[str, Any]:
    """The health+json document of a run (JSON-ready)."""
    status = _VERDICT_STATUS.get(run.verdict, "fail")
    time = run.finished_at or run.started_at
    checks: dict[str, list[dict[str, Any]]] = {}
    pairs = [_component_check(c, run, time) for c in run.components]
    pairs += [_metric_check(m, time) for m in run.performance if m.not_measured is None]
    if run.features:
        pairs.append(_scenario_check(run, time))
    for key, reading in pairs:
        checks.setdefault(key, []).append(reading)
    doc: dict[str, Any] = {"status": status}
    api_version = run.fingerprint.get("api_version")
    if api_version:
        doc["version"] = str(api_version)
    doc["serviceId"] = f"qtask:{run.environment_name}"
    doc["description"] = (
        f"qtask deployment verification of environment '{run.environment_name}': {run.headline}"
    )
    notes = [run.reason] if run.reason else []
    notes += [f"preflight: {f}" for f in run.preflight.failures]
    if notes:
        doc["notes"] = notes
    if status != "pass":
        doc["output"] = "; ".join(notes) or run.verdict
    doc["checks"] = checks
    doc["links"] = {"about": "signoff.html"}
    return doc
