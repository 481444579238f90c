"""What `discover` found: one row per thing the contract speaks of, and the draft's values.

A row's assessment keeps apart what a profile may adopt (an allowed difference) from what stays
a defect (a violation): only the former ever reaches the draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Literal

Part = Literal["api", "database", "queue"]


class Assessment(Enum):
    """How a found value stands against the contract."""

    AS_CONTRACT = "as the contract"
    ALLOWED = "allowed difference"
    VIOLATION = "violation"
    NOTE = "note"


def some(items: list[str], limit: int = 5) -> str:
    """At most ``limit`` of ``items``, joined, and how many more there are (a table cell)."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True)
class Finding:
    """One row of the table: the contract's side, what was found, and the assessment."""

    component: Part
    item: str
    contract: str
    found: str
    assessment: Assessment
    why: str = ""  # a violation's reason, or the profile key an allowed difference sets


@dataclass(frozen=True)
class DraftIndex:
    table: str
    columns: tuple[str, ...]
    name: str | None  # None: the contract's index is missing, so no name is pinned


@dataclass(frozen=True)
class Draft:
    """The values the draft profile sets; None leaves the key out (the default stays)."""

    alembic_head: str | None = None
    status_type: str | None = None
    queue_name: str | None = None
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    dead_letter_queue: str | None = None
    history_foreign_key: str | None = None
    indexes: tuple[DraftIndex, ...] = ()

    def merged(self, other: Draft) -> Draft:
        """This draft with every value ``other`` sets."""
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(other)
            if getattr(other, f.name) not in (None, ())
        }
        return replace(self, **changes)


@dataclass(frozen=True)
class Unreachable:
    """A component `discover` could not read, in one line."""

    component: Part
    diagnosis: str


@dataclass(frozen=True)
class Reading:
    """What one component's introspection produced."""

    findings: tuple[Finding, ...] = ()
    draft: Draft = field(default_factory=Draft)


@dataclass(frozen=True)
class Discovery:
    """Everything `discover` learnt about a deployment; secrets are already redacted."""

    environment: str  # where the connection settings came from ("profile staging")
    api_url: str
    target: str  # where: API URL, database and broker endpoints (passwords masked)
    vhost: str
    findings: tuple[Finding, ...]
    draft: Draft
    unreachable: tuple[Unreachable, ...] = ()
    duration_s: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every component could be read (only then is the draft worth using)."""
        return not self.unreachable

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.assessment is Assessment.VIOLATION)

    @property
    def allowed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.assessment is Assessment.ALLOWED)
