"""A tolerant, typed view of the run record (`reports/run.json`).

The record may be partial (a preflight failure has no features, a scenario may lack steps) or come
from an older writer; every reader here falls back to an empty value instead of raising, so the
sign-off is always published, whatever the run looked like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VERDICTS = ("GO", "GO WITH RISKS", "NO-GO")
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@/\s]+)@")


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


def mask_url(value: str) -> str:
    """Mask any password left in a URL: the record should be masked already; this is a backstop."""
    return _URL_PASSWORD.sub(
        lambda m: m["head"] + ("***" if m["pw"] != "***" else m["pw"]) + "@", value
    )


def scenario_outcome(outcome: str, attempts: Sequence[str]) -> str:
    """A scenario that failed and then passed on a rerun is flaky, whatever the writer said."""
    if attempts and attempts[-1] == "passed" and any(a != "passed" for a in attempts[:-1]):
        return "flaky"
    return outcome or (attempts[-1] if attempts else "unknown")


@dataclass(frozen=True)
class Step:
    keyword: str
    text: str
    outcome: str
    duration_s: float | None


@dataclass(frozen=True)
class Diagnosis:
    component: str
    message: str


@dataclass(frozen=True)
class Observation:
    t_s: float | None
    observation: str


@dataclass(frozen=True)
class Scenario:
    name: str
    nodeid: str
    tags: tuple[str, ...]
    priority: str
    outcome: str
    attempts: tuple[str, ...]
    duration_s: float | None
    skip_reason: str
    steps: tuple[Step, ...]
    diagnosis: Diagnosis | None
    timeline: tuple[Observation, ...]


@dataclass(frozen=True)
class Feature:
    name: str
    file: str
    description: str
    scenarios: tuple[Scenario, ...]


@dataclass(frozen=True)
class Component:
    name: str
    status: str
    latency_ms: float | None
    detail: str


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    p50: float | None
    p95: float | None
    threshold: float | None
    samples: int | None
    passed: bool | None


@dataclass(frozen=True)
class Run:
    run_id: str
    started_at: str
    finished_at: str
    duration_s: float | None
    environment_name: str
    environment: tuple[tuple[str, str], ...]
    verdict: str
    exit_code: int | None
    reason: str
    preflight_ok: bool | None
    preflight_failures: tuple[str, ...]
    components: tuple[Component, ...]
    fingerprint: Mapping[str, Any]
    counts: Mapping[str, int]
    features: tuple[Feature, ...]
    performance: tuple[Metric, ...]

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return tuple(s for f in self.features for s in f.scenarios)


def _step(raw: Any) -> Step:
    s = _map(raw)
    return Step(
        keyword=_text(s.get("keyword")).strip(),
        text=_text(s.get("text")),
        outcome=_text(s.get("outcome")) or "not run",
        duration_s=_num(s.get("duration_s")),
    )


def _scenario(raw: Any) -> Scenario:
    s = _map(raw)
    attempts = tuple(_text(a) for a in _seq(s.get("attempts")))
    diag = s.get("diagnosis")
    diagnosis = (
        Diagnosis(_text(diag.get("component")), _text(diag.get("message")))
        if isinstance(diag, Mapping) and (diag.get("component") or diag.get("message"))
        else None
    )
    timeline = tuple(
        Observation(_num(o.get("t_s")), _text(o.get("observation")))
        for o in map(_map, _seq(s.get("timeline")))
        if o
    )
    return Scenario(
        name=_text(s.get("name")) or "(unnamed scenario)",
        nodeid=_text(s.get("nodeid")),
        tags=tuple(_text(t) for t in _seq(s.get("tags"))),
        priority=_text(s.get("priority")),
        outcome=scenario_outcome(_text(s.get("outcome")), attempts),
        attempts=attempts,
        duration_s=_num(s.get("duration_s")),
        skip_reason=_text(s.get("skip_reason")),
        steps=tuple(_step(st) for st in _seq(s.get("steps"))),
        diagnosis=diagnosis,
        timeline=timeline,
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
    samples = m.get("samples")
    passed = m.get("passed")
    return Metric(
        name=_text(m.get("name")) or "(unnamed figure)",
        unit=_text(m.get("unit")),
        p50=_num(m.get("p50")),
        p95=_num(m.get("p95")),
        threshold=_num(m.get("threshold")),
        samples=samples if isinstance(samples, int) and not isinstance(samples, bool) else None,
        passed=passed if isinstance(passed, bool) else None,
    )


def _counts(raw: Any, features: Sequence[Feature]) -> dict[str, int]:
    given = _map(raw)
    counted = {"passed": 0, "failed": 0, "skipped": 0, "flaky": 0}
    for s in (s for f in features for s in f.scenarios):
        if s.outcome in counted:
            counted[s.outcome] += 1
    return {
        k: given[k] if isinstance(given.get(k), int) and not features else counted[k]
        for k in counted
    }


def read_run(raw: Mapping[str, Any]) -> Run:
    """Read a run record into a `Run`, never raising on missing or malformed fields."""
    env = _map(raw.get("environment"))
    pre = _map(raw.get("preflight"))
    features = tuple(_feature(f) for f in _seq(raw.get("features")))
    verdict = _text(raw.get("verdict")).upper()
    exit_code = raw.get("exit_code")
    return Run(
        run_id=_text(raw.get("run_id")),
        started_at=_text(raw.get("started_at")),
        finished_at=_text(raw.get("finished_at")),
        duration_s=_num(raw.get("duration_s")),
        environment_name=_text(env.get("name")) or "unknown",
        environment=tuple(
            (_text(k), mask_url(_text(v))) for k, v in env.items() if k != "name" and v
        ),
        verdict=verdict if verdict in VERDICTS else "UNKNOWN",
        exit_code=exit_code if isinstance(exit_code, int) else None,
        reason=_text(raw.get("reason")),
        preflight_ok=pre.get("ok") if isinstance(pre.get("ok"), bool) else None,
        preflight_failures=tuple(_text(f) for f in _seq(pre.get("failures"))),
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
        counts=_counts(raw.get("counts"), features),
        features=features,
        performance=tuple(_metric(m) for m in _seq(raw.get("performance"))),
    )
