"""The run history (`history.jsonl`): one JSON line appended per run, read back for the trend.

A team trusts a gate that shows its past, so each line keeps what the trend and a later audit
need: verdict and scope, time to verdict, each scenario's outcome and attempts (flaky stays
visible) and the performance figures. Only runs that judged the deployment are recorded: an
interrupted run or a configuration error never adds a line that could read as a run of the
deployment. Reading tolerates a damaged line (a crash mid-write, a hand edit): it is skipped with
a note instead of hiding the whole trend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtask_verify.run.record import RunRecord

SCHEMA = "qtask-verify/history/1"
FILENAME = "history.jsonl"


@dataclass(frozen=True)
class History:
    entries: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]


def entry_for(run: RunRecord) -> dict[str, Any]:
    """The history line of one run (JSON-ready)."""
    return {
        "schema": SCHEMA,
        "run_id": run.run_id,
        "time": run.finished_at or run.started_at,
        "environment": run.environment_name,
        "verdict": run.verdict,
        "scope": run.scope,
        "exit_code": run.exit_code,
        "duration_s": run.duration_s,
        "preflight_ok": run.preflight.ok,
        "counts": dict(run.counts),
        "scenarios": [
            {
                "feature": feature.name,
                "name": s.name,
                "nodeid": s.nodeid,
                "outcome": s.outcome,
                "attempts": list(s.attempts),
                "duration_s": s.duration_s,
            }
            for feature in run.features
            for s in feature.scenarios
        ],
        "performance": [
            {
                "name": m.name,
                "unit": m.unit,
                "p50": m.p50,
                "p95": m.p95,
                "threshold": m.threshold,
                "passed": m.passed,
                "not_measured": m.not_measured,
            }
            for m in run.performance
        ],
    }


def read(path: Path) -> History:
    """Every readable entry of the history, oldest first, with a note per unreadable line."""
    if not path.exists():
        return History((), ())
    entries: list[dict[str, Any]] = []
    bad: list[int] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                bad.append(number)
                continue
            if isinstance(entry, dict):
                entries.append(entry)
            else:
                bad.append(number)
    notes: tuple[str, ...] = ()
    if bad:
        lines = ", ".join(str(n) for n in bad[:10]) + (" …" if len(bad) > 10 else "")
        notes = (
            f"{len(bad)} line(s) of {path.name} could not be read and were left out "
            f"of the trend (line {lines}).",
        )
    return History(tuple(entries), notes)


def append(path: Path, run: RunRecord, history: History) -> bool:
    """Append the run's line unless this run id is already recorded; True if a line was written.

    Publishing the same run twice (a re-render) must not count it twice in the trend; a run
    without a verdict on the deployment (interrupted, not verified, unknown) is not a run of it.
    """
    if run.decision is None or not run.decision.in_history:
        return False
    if run.run_id and any(e.get("run_id") == run.run_id for e in history.entries):
        return False
    line = json.dumps(entry_for(run), ensure_ascii=False, separators=(",", ":")) + "\n"
    # A previous writer that died mid-line leaves no newline: start ours on a line of its own.
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                line = "\n" + line
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)
    return True
