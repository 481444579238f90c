"""The verdict block `qtask-verify` prints after the run, rendered from the run record.

What a person gating a release needs on one screen: the verdict and why, each component's health,
the deployment's fingerprint, every failure's diagnosis in one line, what was not verified, and
where the reports are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

_COMPONENTS = ("api", "database", "queue", "workers")
_COMPONENT_TITLES = {"api": "API", "database": "database", "queue": "queue", "workers": "workers"}


def render(record: Mapping[str, Any], reports: Sequence[Path]) -> str:
    """The whole block, ending with the verdict line (CI logs are read from the bottom)."""
    lines = [_rule(f"qtask-verify: {record['verdict']}")]
    environment = record.get("environment") or {}
    if environment.get("name"):
        lines.append(f"deployment: {environment['name']} ({environment.get('api_url', '?')})")
    lines += ["", *component_table(record.get("components") or [])]
    lines += ["", f"fingerprint: {fingerprint_line(record.get('fingerprint'))}"]
    preflight = record.get("preflight") or {}
    if preflight and not preflight.get("ok", True):
        lines += ["", "preflight failed:", *(f"  - {f}" for f in preflight.get("failures", []))]
    scenarios = [s for feature in record.get("features", []) for s in feature["scenarios"]]
    failed = [s for s in scenarios if s["outcome"] == "failed"]
    if failed:
        lines += ["", "failures:", *(f"  - {failure_line(s)}" for s in failed)]
    flaky = [s for s in scenarios if s["outcome"] == "flaky"]
    if flaky:
        lines += ["", "flaky (failed, then passed on a rerun):"]
        lines += [f"  - {failure_line(s)} [attempts: {', '.join(s['attempts'])}]" for s in flaky]
    skipped = [s for s in scenarios if s["outcome"] == "skipped"]
    if skipped:
        lines += ["", "not verified (skipped):"]
        lines += [f"  - [{s['priority'] or '?'}] {s['name']}: {s['skip_reason']}" for s in skipped]
    counts = record.get("counts") or {}
    if counts:
        lines += ["", "scenarios: " + ", ".join(f"{v} {k}" for k, v in counts.items())]
    if reports:
        lines += ["", "reports:", *(f"  {path}" for path in reports)]
    lines += [
        "",
        f"{record['verdict']}: {record['reason']} (exit {record['exit_code']})",
    ]
    return "\n".join(lines)


def _rule(title: str, width: int = 78) -> str:
    return f" {title} ".center(width, "=")


def component_table(components: Iterable[Mapping[str, Any]]) -> list[str]:
    """API, database, queue, workers: status, latency, detail; 'not checked' when missing."""
    by_name = {c["name"]: c for c in components}
    rows = [("component", "status", "latency", "detail")]
    for name in (*_COMPONENTS, *(n for n in by_name if n not in _COMPONENTS)):
        component = by_name.get(name)
        if component is None:
            rows.append((_COMPONENT_TITLES.get(name, name), "unknown", "-", "not checked"))
            continue
        latency = component.get("latency_ms")
        rows.append(
            (
                _COMPONENT_TITLES.get(name, name),
                str(component.get("status", "unknown")),
                f"{latency:.1f} ms" if isinstance(latency, (int, float)) else "-",
                str(component.get("detail") or ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        for row in rows
    ]


def fingerprint_line(fingerprint: Mapping[str, Any] | None) -> str:
    """Alembic revision, queue settings, consumer count and API version, in one line."""
    if not fingerprint:
        return "not taken (the preflight did not reach the deployment)"
    parts = [f"alembic {fingerprint.get('alembic_revision') or 'unknown'}"]
    queue = fingerprint.get("queue")
    if isinstance(queue, Mapping):
        settings = [
            "durable" if queue.get("durable") else "NOT durable",
            "auto-delete" if queue.get("auto_delete") else "not auto-delete",
            f"dead letters to {queue.get('dead_letter_exchange') or 'nowhere'}",
        ]
        parts.append(f"queue {queue.get('name', '?')} ({', '.join(settings)})")
        parts.append(f"{queue.get('consumers', '?')} consumer(s)")
    parts.append(f"api {fingerprint.get('api_version') or 'version not reported'}")
    known = {"alembic_revision", "queue", "api_version"}
    parts += [f"{key} {value}" for key, value in fingerprint.items() if key not in known]
    return " · ".join(parts)


def failure_line(scenario: Mapping[str, Any]) -> str:
    """'[p1] scenario name: workers: no worker is consuming quantum_tasks (0 consumers)'."""
    diagnosis = scenario.get("diagnosis") or {}
    message = diagnosis.get("message") or "failed without a diagnosis (see the HTML report)"
    component = diagnosis.get("component")
    said = f"{component}: {message}" if component else message
    return f"[{scenario.get('priority') or '?'}] {scenario['name']}: {said}"
