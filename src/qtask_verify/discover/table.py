"""The side-by-side table of `discover`: contract | found | assessment, one row per item."""

from __future__ import annotations

from .findings import Assessment, Discovery, Finding

_HEADER = ("COMPONENT", "ITEM", "CONTRACT", "FOUND", "ASSESSMENT")
_MARK = {
    Assessment.AS_CONTRACT: "as the contract",
    Assessment.ALLOWED: "allowed difference",
    Assessment.VIOLATION: "VIOLATION",
    Assessment.NOTE: "note",
}


def _cells(finding: Finding) -> tuple[str, str, str, str, str]:
    assessment = _MARK[finding.assessment] + (f": {finding.why}" if finding.why else "")
    return finding.component, finding.item, finding.contract, finding.found, assessment


def render_table(discovery: Discovery) -> str:
    """The table, then one line per unreachable component and a count of each assessment."""
    rows = [_HEADER, *(_cells(f) for f in discovery.findings)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER) - 1)]
    lines = [
        f"qtask-verify discover: connections from {discovery.environment}; {discovery.target}; "
        f"vhost {discovery.vhost!r}; read in {discovery.duration_s:.1f} s",
    ]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    for unreachable in discovery.unreachable:
        lines.append(f"qtask-verify discover: {unreachable.component}: {unreachable.diagnosis}")
    counts = {a: sum(f.assessment is a for f in discovery.findings) for a in Assessment}
    lines.append(
        f"{counts[Assessment.AS_CONTRACT]} as the contract, {counts[Assessment.ALLOWED]} allowed "
        f"difference(s) (the draft adopts their names), {counts[Assessment.VIOLATION]} "
        f"violation(s) (never adopted)"
        + (f", {len(discovery.unreachable)} component(s) not read" if discovery.unreachable else "")
    )
    return "\n".join(line.rstrip() for line in lines)
