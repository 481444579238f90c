"""Redact a pytest report in place, before any reporter, xdist or the terminal sees it.

Every report (HTML, JSON, JUnit, Cucumber, terminal, the xdist wire) is built from the report
object, its `sections` and, for pytest-json-report, the item's captured streams and logs; scrubbing
those at the source is the one place that covers them all, whatever failed and however.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

Redact = Callable[[str], str]


def scrub(value: Any, redact: Redact) -> Any:
    """Return `value` with every string in it redacted; containers and pytest reprs in place."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        value[:] = [scrub(v, redact) for v in value]
        return value
    if isinstance(value, tuple):
        return tuple(scrub(v, redact) for v in value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = scrub(value[key], redact)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # pytest's TerminalRepr family (ExceptionChainRepr, ReprEntry, ReprFileLocation, ...)
        for field in dataclasses.fields(value):
            object.__setattr__(value, field.name, scrub(getattr(value, field.name), redact))
        return value
    return value


def scrub_report(report: Any, redact: Redact) -> None:
    """Redact the failure text, captured output and user properties of a test or collect report."""
    report.longrepr = scrub(report.longrepr, redact)
    report.sections = [(title, redact(content)) for title, content in report.sections]
    if getattr(report, "user_properties", None):
        report.user_properties = [(k, scrub(v, redact)) for k, v in report.user_properties]


def scrub_item(item: Any, redact: Redact) -> None:
    """Redact what the item keeps for later reports: captured sections and json-report extras."""
    item._report_sections = [
        (when, key, redact(content)) for when, key, content in item._report_sections
    ]
    extra = getattr(item, "_json_report_extra", None)
    if extra is not None:
        scrub(extra, redact)
