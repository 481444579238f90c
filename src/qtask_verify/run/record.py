"""The run record (`reports/run.json`): one typed model, written and read by this module only.

The reporting plugin builds a :class:`RunRecord` and writes it; the CLI, the terminal, the sign-off
page, the history and the health verdict read it back with :func:`RunRecord.from_json`, which never
raises: a record may be partial (a preflight failure has no features) or come from an older
writer, and every field falls back to an empty value. One module writes and reads it, so the two
cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .causes import Cause, group_causes
from .decision import Decision

SCHEMA = "qtask-verify/run/2"  # /1 had no scope and no "not run by policy" outcome
FILENAME = "run.json"
POLICY = "not run by policy"
OUTCOMES = ("passed", "failed", "flaky", "skipped", POLICY)
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@/\s]+)@")


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str
    outcome: str  # passed | failed | skipped | not run
    duration_s: float | None = None
    datatable: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    """What the deployment was seen doing; ``detail`` is the raw driver text behind it."""

    component: str | None
    message: str
    detail: str | None = None
    loss: bool = False

    @property
    def said(self) -> str:
        return f"{self.component}: {self.message}" if self.component else self.message


@dataclass(frozen=True)
class Observation:
    t_s: float | None
    observation: str


@dataclass(frozen=True)
class Scenario:
    name: str
    nodeid: str = ""
    tags: tuple[str, ...] = ()
    priority: str | None = None  # p1 | p2 | p3; None is judged as p1, the strict side
    outcome: str = "skipped"  # one of OUTCOMES
    attempts: tuple[str, ...] = ()
    duration_s: float | None = None
    skip_reason: str | None = None
    steps: tuple[Step, ...] = ()
    diagnosis: Diagnosis | None = None  # the headline: a loss among `diagnoses`, else the first
    timeline: tuple[Observation, ...] = ()  # what was seen on the way to the headline
    losses: tuple[Diagnosis, ...] = ()  # every attempt's loss, kept when a rerun passed
    # Every failure of the last attempt, in step order: a failed check does not stop a scenario.
    diagnoses: tuple[Diagnosis, ...] = ()

    @property
    def failures(self) -> tuple[Diagnosis, ...]:
        """Every diagnosis; a record that lists none (older, or partial) has its headline."""
        return self.diagnoses or ((self.diagnosis,) if self.diagnosis else ())


@dataclass(frozen=True)
class Feature:
    name: str
    file: str = ""
    description: str = ""
    scenarios: tuple[Scenario, ...] = ()


@dataclass(frozen=True)
class Component:
    name: str
    status: str  # up | down | degraded | unknown
    latency_ms: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Metric:
    """A performance figure, or the reason a scenario that measures one gave none."""

    name: str
    unit: str = ""
    p50: float | None = None
    p95: float | None = None
    threshold: float | None = None
    samples: int | None = None
    passed: bool | None = None
    not_measured: str | None = None


@dataclass(frozen=True)
class Preflight:
    ok: bool | None
    duration_s: float | None = None
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRecord:
    run_id: str = ""
    started_at: str = ""
    finished_at: str = ""
    duration_s: float | None = None
    environment: Mapping[str, str] = field(default_factory=dict)  # name and masked URLs
    verdict: str = "UNKNOWN"  # a Decision's label, or UNKNOWN when the writer gave none
    exit_code: int | None = None
    reason: str = ""
    scope: str | None = None  # e.g. "read-only checks": what the profile's policy left out
    preflight: Preflight = field(default_factory=lambda: Preflight(None))
    components: tuple[Component, ...] = ()
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[Feature, ...] = ()
    performance: tuple[Metric, ...] = ()
    # The writer's counts, used only when the record lists no features (a partial record).
    given_counts: Mapping[str, int] = field(default_factory=dict, compare=False)

    @property
    def environment_name(self) -> str:
        return self.environment.get("name") or "unknown"

    @property
    def decision(self) -> Decision | None:
        return Decision.of_label(self.verdict)

    @property
    def headline(self) -> str:
        """'GO (read-only checks)': the verdict with the scope a reader must not miss."""
        return f"{self.verdict} ({self.scope})" if self.scope else self.verdict

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return tuple(s for f in self.features for s in f.scenarios)

    @property
    def counts(self) -> dict[str, int]:
        if not self.features:
            return {k: int(self.given_counts.get(k, 0)) for k in OUTCOMES}
        return {k: sum(1 for s in self.scenarios if s.outcome == k) for k in OUTCOMES}

    @property
    def causes(self) -> tuple[Cause, ...]:
        """Failures grouped by root cause, losses first (see ``run.causes``)."""
        return group_causes(self.scenarios, self.components)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document.pop("given_counts")
        return {"schema": SCHEMA, **document, "counts": self.counts}

    @classmethod
    def from_json(cls, raw: Any) -> RunRecord:
        """Read a record of any age or completeness, never raising."""
        return _read_record(_map(raw))

    def with_verdict(self, decision: Decision, reason: str, scope: str | None) -> RunRecord:
        return replace(
            self, verdict=decision.label, exit_code=decision.exit_code, reason=reason, scope=scope
        )


def write_run_record(record: RunRecord, report_dir: Path) -> Path:
    """Write run.json atomically (a reader never sees half a record)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / FILENAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_run_record(report_dir: Path) -> RunRecord | None:
    """The run record of the last run in `report_dir`, or None if that run wrote none."""
    try:
        text = (report_dir / FILENAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return RunRecord.from_json(json.loads(text))
    except ValueError:
        return RunRecord(reason=f"{FILENAME} is not valid JSON")


def mask_url(value: str) -> str:
    """Mask a password left in a URL: the writer masks them already; this is a backstop."""
    return _URL_PASSWORD.sub(
        lambda m: m["head"] + ("***" if m["pw"] != "***" else m["pw"]) + "@", value
    )


# -- the tolerant reader ---------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _outcome(outcome: str, attempts: Sequence[str]) -> str:
    """A scenario that failed and then passed on a rerun is flaky, whatever the writer said."""
    if attempts and attempts[-1] == "passed" and any(a != "passed" for a in attempts[:-1]):
        return "flaky"
    return outcome or (attempts[-1] if attempts else "unknown")


def _diagnosis(raw: Any) -> Diagnosis | None:
    d = _map(raw)
    if not (d.get("component") or d.get("message")):
        return None
    detail = d.get("detail")
    return Diagnosis(
        _text(d.get("component")) or None,
        _text(d.get("message")),
        _text(detail) if detail else None,
        d.get("loss") is True,
    )


def _step(raw: Any) -> Step:
    s = _map(raw)
    table = tuple(tuple(_text(c) for c in _seq(row)) for row in _seq(s.get("datatable")))
    return Step(
        keyword=_text(s.get("keyword")).strip(),
        text=_text(s.get("text")),
        outcome=_text(s.get("outcome")) or "not run",
        duration_s=_num(s.get("duration_s")),
        datatable=table,
    )


def _scenario(raw: Any) -> Scenario:
    s = _map(raw)
    attempts = tuple(_text(a) for a in _seq(s.get("attempts")))
    return Scenario(
        name=_text(s.get("name")) or "(unnamed scenario)",
        nodeid=_text(s.get("nodeid")),
        tags=tuple(_text(t) for t in _seq(s.get("tags"))),
        priority=_text(s.get("priority")) or None,
        outcome=_outcome(_text(s.get("outcome")), attempts),
        attempts=attempts,
        duration_s=_num(s.get("duration_s")),
        skip_reason=_text(s.get("skip_reason")) or None,
        steps=tuple(_step(st) for st in _seq(s.get("steps"))),
        diagnosis=_diagnosis(s.get("diagnosis")),
        timeline=tuple(
            Observation(_num(o.get("t_s")), _text(o.get("observation")))
            for o in map(_map, _seq(s.get("timeline")))
            if o
        ),
        losses=tuple(d for d in map(_diagnosis, _seq(s.get("losses"))) if d is not None),
        diagnoses=tuple(d for d in map(_diagnosis, _seq(s.get("diagnoses"))) if d is not None),
    )


def _feature(raw: Any) -> Feature:
    f = _map(raw)
    return Feature(
        name=_text(f.get("name")) or "(unnamed feature)",
        file=_text(f.get("file")),
        description=_text(f.get("description")),
        scenarios=tuple(_scenario(s) for s in _seq(f.get("scenarios"))),
    )


def _metric(raw: Any) -> Metric:
    m = _map(raw)
    passed = m.get("passed")
    return Metric(
        name=_text(m.get("name")) or "(unnamed figure)",
        unit=_text(m.get("unit")),
        p50=_num(m.get("p50")),
        p95=_num(m.get("p95")),
        threshold=_num(m.get("threshold")),
        samples=_int(m.get("samples")),
        passed=passed if isinstance(passed, bool) else None,
        not_measured=_text(m.get("not_measured")) or None,
    )


def _read_record(raw: Mapping[str, Any]) -> RunRecord:
    pre = _map(raw.get("preflight"))
    decision = Decision.of_label(raw.get("verdict"))
    environment = {
        _text(k): _text(v) if k == "name" else mask_url(_text(v))
        for k, v in _map(raw.get("environment")).items()
        if v
    }
    return RunRecord(
        run_id=_text(raw.get("run_id")),
        started_at=_text(raw.get("started_at")),
        finished_at=_text(raw.get("finished_at")),
        duration_s=_num(raw.get("duration_s")),
        environment=environment,
        verdict=decision.label if decision is not None else "UNKNOWN",
        exit_code=_int(raw.get("exit_code")),
        reason=_text(raw.get("reason")),
        scope=_text(raw.get("scope")) or None,
        preflight=Preflight(
            ok=pre.get("ok") if isinstance(pre.get("ok"), bool) else None,
            duration_s=_num(pre.get("duration_s")),
            failures=tuple(_text(f) for f in _seq(pre.get("failures"))),
        ),
        components=tuple(
            Component(
                name=_text(c.get("name")) or "(unnamed)",
                status=_text(c.get("status")) or "unknown",
                latency_ms=_num(c.get("latency_ms")),
                detail=_text(c.get("detail")),
            )
            for c in map(_map, _seq(raw.get("components")))
        ),
        fingerprint=_map(raw.get("fingerprint")),
        features=tuple(_feature(f) for f in _seq(raw.get("features"))),
        performance=tuple(_metric(m) for m in _seq(raw.get("performance"))),
        given_counts={k: v for k, v in _map(raw.get("counts")).items() if _int(v) is not None},
    )
