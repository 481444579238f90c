"""The verdict block `qtask-verify` prints after the run, rendered from the run record.

What a person gating a release needs on one screen: the verdict and its scope, each component's
health, the deployment's fingerprint, the failures grouped by root cause (one broken component is
one problem, listed with the scenarios it broke), what was not verified, and where the reports
are. One cause fits on a screen whatever the number of scenarios it affected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..run.causes import Cause
from ..run.record import POLICY, Component, RunRecord, Scenario

_COMPONENTS = ("api", "database", "queue", "workers")
_COMPONENT_TITLES = {"api": "API", "database": "database", "queue": "queue", "workers": "workers"}


def render(record: RunRecord, reports: Sequence[Path], *, verbose: bool = False) -> str:
    """The whole block, ending with the verdict line (CI logs are read from the bottom).

    ``verbose`` adds each affected scenario's own diagnosis under its cause.
    """
    lines = [_rule(f"qtask-verify: {record.headline}")]
    if record.environment.get("name"):
        api = record.environment.get("api_url", "?")
        lines.append(f"deployment: {record.environment_name} ({api})")
    lines += ["", *component_table(record.components)]
    lines += ["", f"fingerprint: {fingerprint_line(record.fingerprint)}"]
    if record.preflight.ok is False:
        lines += ["", "preflight failed:", *(f"  - {f}" for f in record.preflight.failures)]
    if causes := record.causes:
        lines += ["", *cause_lines(causes, verbose=verbose)]
    lines += _not_verified(record.scenarios)
    counts = ", ".join(f"{n} {outcome}" for outcome, n in record.counts.items() if n)
    lines += ["", f"scenarios: {counts or 'none ran'}"]
    if reports:
        folder = reports[0].parent
        lines.append(f"reports in {folder}: {', '.join(p.name for p in reports)}")
    code = record.exit_code if record.exit_code is not None else "?"
    lines += ["", f"{record.headline}: {record.reason} (exit {code})"]
    return "\n".join(lines)


def _rule(title: str, width: int = 78) -> str:
    return f" {title} ".center(width, "=")


def _s(count: int) -> str:
    return "" if count == 1 else "s"


# A cause that breaks most of the gate still fits on one screen; -v lists them all.
LISTED_PER_CAUSE = 10


def cause_lines(causes: Sequence[Cause], *, verbose: bool = False) -> list[str]:
    """'1 cause, 9 scenarios affected:', then each cause and the scenarios it broke (a scenario
    that failed several checks is listed under the cause of each)."""
    affected = len({id(s) for c in causes for s in c.scenarios})
    lines = [f"{len(causes)} cause{_s(len(causes))}, {affected} scenario{_s(affected)} affected:"]
    for number, cause in enumerate(causes, start=1):
        marks = ["accepted task lost"] if cause.loss else []
        marks += ["seen by the preflight"] if cause.seen_by_preflight else []
        note = f"  [{'; '.join(marks)}]" if marks else ""
        lines.append(f"  {number}. {cause.said}{note}")
        listed = cause.scenarios if verbose else cause.scenarios[:LISTED_PER_CAUSE]
        for scenario in listed:
            diagnosis = cause.diagnosis_of(scenario)
            said = diagnosis.said if diagnosis else ""
            own = f": {said}" if verbose and said and said != cause.said else ""
            lines.append(f"     [{scenario.priority or '?'}] {scenario.name}{own}")
        if hidden := len(cause.scenarios) - len(listed):
            lines.append(f"     ... and {hidden} more (every one in signoff.html, or with -v)")
    return lines


def _not_verified(scenarios: Sequence[Scenario]) -> list[str]:
    lines: list[str] = []
    if flaky := [s for s in scenarios if s.outcome == "flaky"]:
        lines += ["", "flaky (failed, then passed on a rerun):"]
        lines += [f"  - [{s.priority or '?'}] {s.name} [{', '.join(s.attempts)}]" for s in flaky]
    if skipped := [s for s in scenarios if s.outcome == "skipped"]:
        lines += ["", "not verified (skipped):"]
        lines += [f"  - [{s.priority or '?'}] {s.name}: {s.skip_reason}" for s in skipped]
    policy = Counter(
        (s.skip_reason or "").removeprefix(f"{POLICY}: ") for s in scenarios if s.outcome == POLICY
    )
    for reason, count in policy.items():
        lines += ["", f"{POLICY}: {count} scenario{_s(count)} ({reason})"]
    return lines


def component_table(components: Iterable[Component]) -> list[str]:
    """API, database, queue, workers: status, latency, detail; 'not checked' when missing."""
    by_name = {c.name: c for c in components}
    rows = [("component", "status", "latency", "detail")]
    for name in (*_COMPONENTS, *(n for n in by_name if n not in _COMPONENTS)):
        component = by_name.get(name)
        title = _COMPONENT_TITLES.get(name, name)
        if component is None:
            rows.append((title, "unknown", "-", "not checked"))
            continue
        latency = component.latency_ms
        shown = f"{latency:.1f} ms" if latency is not None else "-"
        rows.append((title, component.status, shown, component.detail))
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
