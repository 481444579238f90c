"""The verdict block printed by qtask-verify, rendered from a run record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtask_verify.reports.terminal import component_table, fingerprint_line, render


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "verdict": "NO-GO",
        "exit_code": 1,
        "reason": "1 of 4 P1 scenarios failed: Workers consume",
        "environment": {"name": "local", "api_url": "http://127.0.0.1:8001"},
        "preflight": {"ok": True, "duration_s": 0.1, "failures": []},
        "components": [
            {"name": "api", "status": "up", "latency_ms": 4.12, "detail": "healthy"},
            {"name": "workers", "status": "down", "latency_ms": None, "detail": "0 consumers"},
        ],
        "fingerprint": {
            "alembic_revision": "0002",
            "queue": {
                "name": "quantum_tasks",
                "durable": True,
                "auto_delete": False,
                "dead_letter_exchange": "quantum_tasks.dlx",
                "consumers": 0,
            },
            "api_version": None,
        },
        "counts": {"passed": 3, "failed": 1, "skipped": 1, "flaky": 1},
        "features": [
            {
                "scenarios": [
                    {
                        "name": "Workers consume",
                        "priority": "p1",
                        "outcome": "failed",
                        "attempts": ["failed"],
                        "skip_reason": None,
                        "diagnosis": {
                            "component": "workers",
                            "message": "no worker is consuming quantum_tasks (0 consumers)",
                        },
                    },
                    {
                        "name": "Persistence",
                        "priority": "p2",
                        "outcome": "skipped",
                        "attempts": ["skipped"],
                        "skip_reason": "no controller",
                        "diagnosis": None,
                    },
                    {
                        "name": "Latency",
                        "priority": "p2",
                        "outcome": "flaky",
                        "attempts": ["failed", "passed"],
                        "skip_reason": None,
                        "diagnosis": {"component": None, "message": "AssertionError: slow"},
                    },
                ]
            }
        ],
    }
    return {**base, **overrides}


def test_component_table_lists_all_four_components_even_unchecked_ones() -> None:
    table = component_table(record()["components"])
    assert [line.split()[0] for line in table] == [
        "component",
        "API",
        "database",
        "queue",
        "workers",
    ]
    assert "4.1 ms" in table[1]
    assert table[2].split()[1:] == ["unknown", "-", "not", "checked"]
    assert table[4].endswith("0 consumers")


def test_fingerprint_line_names_revision_queue_settings_consumers_and_version() -> None:
    line = fingerprint_line(record()["fingerprint"])
    assert line == (
        "alembic 0002 · queue quantum_tasks (durable, not auto-delete, dead letters to "
        "quantum_tasks.dlx) · 0 consumer(s) · api version not reported"
    )
    assert fingerprint_line(None).startswith("not taken")


def test_block_has_diagnoses_skips_flaky_reports_and_ends_with_the_verdict() -> None:
    text = render(record(), [Path("reports/report.html")])
    lines = text.splitlines()
    assert "qtask-verify: NO-GO" in lines[0]
    assert (
        "  - [p1] Workers consume: workers: no worker is consuming quantum_tasks (0 consumers)"
        in lines
    )
    assert "  - [p2] Persistence: no controller" in lines
    assert "  - [p2] Latency: AssertionError: slow [attempts: failed, passed]" in lines
    assert "  reports/report.html" in lines
    assert lines[-1] == "NO-GO: 1 of 4 P1 scenarios failed: Workers consume (exit 1)"


def test_failed_preflight_lines_are_shown() -> None:
    failed = {"ok": False, "duration_s": 0.1, "failures": ["database: password refused"]}
    text = render(record(preflight=failed, features=[]), [])
    assert "preflight failed:\n  - database: password refused" in text
