"""docs/faults.md: the catalogue as a table, with the diagnoses and times last measured.

The self-test checks that the table's fault, verdict, scenario and pattern columns match the
catalogue, and rewrites the file with fresh measurements when QTASK_UPDATE_FAULT_DOCS=1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .catalogue import Fault

DOC = Path(__file__).resolve().parents[2] / "docs" / "faults.md"
UPDATE_VARIABLE = "QTASK_UPDATE_FAULT_DOCS"

HEADER = """# Fault catalogue: what the suite says about broken deployments

Every row is a broken deployment that `tests/faults/` builds from a private local stack, runs
`qtask-verify` against (a subprocess with the stack's variables and its own `--report-dir`, as CI
would), and checks: the exit code and verdict, the failing scenario (or the preflight), that the
diagnosis matches the pattern, and the time to verdict (the whole `qtask-verify` process, bound
in the catalogue). The stack is then restored and must be healthy again before the next fault.

Faults are injected from outside wherever possible: the suite's configuration, SQL on the
stack's private database, the broker's Management API, stopping processes. Where the service
itself must misbehave, the wrappers in `tests/faults/wrappers/` run the real service with one
behaviour patched (started through the stack's argv override); the service has no fault switch.

To keep `make test` short, each fault runs the P1 set plus the scenarios that can catch it
(column "run"), not the whole suite. `pytest tests/faults` runs the catalogue and the
no-false-alarm check; `QTASK_UPDATE_FAULT_DOCS=1 pytest tests/faults` rewrites this file with
the diagnoses and times it measured (the first five columns must match the catalogue, the test
fails otherwise).

"""
TABLE_HEAD = (
    "| fault | verdict | failing scenario | diagnosis must match | run | diagnosis measured"
    " | time to verdict |\n| --- | --- | --- | --- | --- | --- | --- |\n"
)


@dataclass(frozen=True)
class Measurement:
    diagnosis: str
    seconds: float


def fixed_columns(fault: Fault) -> list[str]:
    """The columns the catalogue decides (the others are measured)."""
    return [
        fault.title,
        fault.verdict,
        fault.scenario,
        f"`{fault.diagnosis}`",
        f"`{' '.join(fault.select)}`",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(faults: Sequence[Fault], measured: Mapping[str, Measurement]) -> str:
    rows = []
    for fault in faults:
        m = measured[fault.id]
        cells = [
            *fixed_columns(fault),
            f"`{m.diagnosis}`",
            f"{m.seconds:.1f} s (bound {fault.max_s:g} s)",
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return HEADER + TABLE_HEAD + "\n".join(rows) + "\n"


def documented_rows(text: str) -> list[list[str]]:
    """The table's rows as cells (header and separator left out)."""
    table = text.removeprefix(HEADER + TABLE_HEAD) if text.startswith(HEADER) else ""
    rows = []
    for line in table.splitlines():
        if line.startswith("| "):
            cells = [c.strip().replace("\\|", "|") for c in line.strip()[2:-2].split(" | ")]
            rows.append(cells)
    return rows
