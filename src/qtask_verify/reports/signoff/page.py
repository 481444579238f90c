"""Renders the sign-off page (`signoff.html`) from a run and its trend.

One self-contained file: the stylesheet is inlined and a Content-Security-Policy forbids every
fetch, so the page reads the same offline, attached to a ticket or printed. Jinja2 autoescaping
covers all text: scenario names, steps and error messages come from feature files and
deployments, never trusted as HTML.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

import jinja2
from markupsafe import Markup

from qtask_verify.plugin.markers import ordered_tags
from qtask_verify.reports.signoff.trend import Trend
from qtask_verify.run.causes import Cause
from qtask_verify.run.record import POLICY, Feature, RunRecord

MISSING = "\u2013"  # an en dash stands for a value the run did not record

VERDICT_MEANING = {
    "GO": "This deployment works: it can be released.",
    "GO WITH RISKS": "This deployment works, with the risks listed below: release knowingly.",
    "NO-GO": "This deployment is broken: do not release it.",
    "NOT VERIFIED": "Nothing was verified: this run cannot sign off the deployment.",
    "INTERRUPTED": "The run was interrupted: the deployment was not fully verified.",
    "UNKNOWN": "The run gave no verdict: treat this deployment as unverified.",
}
VERDICT_SYMBOL = {
    "GO": "✔",
    "GO WITH RISKS": "!",
    "NO-GO": "✖",
    "NOT VERIFIED": "?",
    "INTERRUPTED": "‖",
    "UNKNOWN": "?",
}
PRIORITY_MEANING = {
    "p1": "must pass to deploy",
    "p2": "quality",
    "p3": "resilience",
}


@dataclass(frozen=True)
class Attention:
    """One line of 'what needs attention', linking to the scenario or section that explains it."""

    kind: str
    title: str
    detail: str
    anchor: str


@dataclass(frozen=True)
class CauseView:
    """A root cause and the scenarios it affected, each with its anchor on the page."""

    cause: Cause
    scenarios: tuple[tuple[str, str, str], ...]  # (name, priority, anchor)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def seconds(value: float | None) -> str:
    """Durations as people read them: 840 ms, 2.3 s, 1 min 05 s."""
    if value is None:
        return MISSING
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(value, 60)
    return f"{minutes:.0f} min {rest:02.0f} s"


def number(value: float | None, unit: str = "") -> str:
    if value is None:
        return MISSING
    if 0 < abs(value) < 1:  # a burst accepted in 0.023 s is not "0 s"
        text = f"{value:.2g}"
    else:
        text = f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def when(iso: str) -> str:
    """An ISO 8601 instant as 'YYYY-MM-DD HH:MM:SS UTC' (or as given if it is not one)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso or MISSING
    if moment.utcoffset() is not None:
        return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            label = str(key).replace("_", " ")
            rows += _flatten(f"{prefix} · {label}" if prefix else label, inner)
        return rows
    if isinstance(value, bool):
        return [(prefix, "yes" if value else "no")]
    if isinstance(value, list):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, MISSING if value is None else str(value))]


def _anchors(features: tuple[Feature, ...]) -> dict[int, str]:
    """A stable, unique element id per scenario (keyed by object id), from feature + name."""
    anchors: dict[int, str] = {}
    used: set[str] = set()
    for feature in features:
        for scenario in feature.scenarios:
            base = f"scenario-{_slug(feature.name)}--{_slug(scenario.name)}"
            anchor, n = base, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            anchors[id(scenario)] = anchor
    return anchors


def _causes(run: RunRecord, anchors: dict[int, str]) -> list[CauseView]:
    return [
        CauseView(c, tuple((s.name, s.priority or "", f"#{anchors[id(s)]}") for s in c.scenarios))
        for c in run.causes
    ]


def _attention(run: RunRecord, anchors: dict[int, str]) -> list[Attention]:
    """Everything but the causes (shown above it): preflight, components, flaky, skips, figures."""
    named = {c.component for c in run.causes}
    items = [Attention("preflight", "Preflight", f, "#environment") for f in run.preflight.failures]
    items += [
        Attention("component", f"{c.name} is {c.status}", c.detail, "#components")
        for c in run.components
        if c.status in ("down", "degraded") and c.name not in named
    ]
    for s in run.scenarios:
        if s.outcome == "flaky":
            detail = f"failed, then passed on a rerun ({' → '.join(s.attempts)})"
            items.append(Attention(s.outcome, s.name, detail, f"#{anchors[id(s)]}"))
        elif s.outcome == "skipped":
            detail = f"not verified: {s.skip_reason or 'no reason was given'}"
            items.append(Attention("skipped", s.name, detail, f"#{anchors[id(s)]}"))
    items += [
        Attention(
            "performance",
            m.name,
            f"p95 {number(m.p95, m.unit)} over the threshold of {number(m.threshold, m.unit)}",
            "#performance",
        )
        for m in run.performance
        if m.passed is False
    ]
    return items


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("qtask_verify.reports.signoff", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(seconds=seconds, number=number, when=when, slug=_slug)
    return env


def render(run: RunRecord, trend: Trend, history_notes: tuple[str, ...]) -> str:
    """The whole page as one HTML string."""
    anchors = _anchors(run.features)
    stylesheet = files("qtask_verify.reports.signoff").joinpath("signoff.css").read_text("utf-8")
    return (
        _environment()
        .get_template("signoff.html")
        .render(
            run=run,
            trend=trend,
            history_notes=history_notes,
            scenarios_of=[[(s, anchors[id(s)]) for s in f.scenarios] for f in run.features],
            causes=_causes(run, anchors),
            # A scenario that failed several checks is under several causes: counted once.
            affected=len({id(s) for c in run.causes for s in c.scenarios}),
            attention=_attention(run, anchors),
            fingerprint=_flatten("", run.fingerprint),
            meaning=VERDICT_MEANING.get(run.verdict, VERDICT_MEANING["UNKNOWN"]),
            symbol=VERDICT_SYMBOL.get(run.verdict, "?"),
            priority_meaning=PRIORITY_MEANING,
            ordered_tags=ordered_tags,
            policy=POLICY,
            outcomes=("passed", "failed", "flaky", "skipped", POLICY),
            zip=zip,
            stylesheet=Markup(stylesheet),  # a package file, not run data
        )
    )
