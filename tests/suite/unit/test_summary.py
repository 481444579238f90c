"""The verdict block printed by qtask-verify, rendered from a run record: quiet and grouped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtask_verify.reports.terminal import component_table, fingerprint_line, render
from qtask_verify.run.record import RunRecord


def block(raw: dict[str, Any], reports: list[Path], **options: bool) -> str:
    return render(RunRecord.from_json(raw), reports, **options)


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
    table = component_table(RunRecord.from_json(record()).components)
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


def test_block_groups_failures_by_cause_lists_skips_flaky_reports_and_ends_with_the_verdict() -> (
    None
):
    text = block(record(), [Path("reports/signoff.html"), Path("reports/report.html")])
    lines = text.splitlines()
    assert "qtask-verify: NO-GO" in lines[0]
    at = lines.index("1 cause, 1 scenario affected:")
    assert lines[at + 1 : at + 3] == [
        "  1. workers: 0 consumers  [seen by the preflight]",
        "     [p1] Workers consume",
    ]
    assert "  - [p2] Persistence: no controller" in lines
    assert "  - [p2] Latency [failed, passed]" in lines
    assert "reports in reports: signoff.html, report.html" in lines
    assert lines[-1] == "NO-GO: 1 of 4 P1 scenarios failed: Workers consume (exit 1)"
    assert "Traceback" not in text


def test_verbose_block_adds_each_scenario_s_own_diagnosis_under_its_cause() -> None:
    text = block(record(), [], verbose=True)
    assert (
        "     [p1] Workers consume: workers: no worker is consuming quantum_tasks (0 consumers)"
        in text.splitlines()
    )


def test_one_cause_of_nine_scenarios_fits_on_one_screen() -> None:
    failed = [
        {
            "name": f"Scenario {n}",
            "priority": "p1" if n < 4 else "p2",
            "outcome": "failed",
            "attempts": ["failed"],
            "diagnosis": {"component": "workers", "message": f"task stayed pending ({n}.0 s)"},
        }
        for n in range(9)
    ]
    raw = record(features=[{"scenarios": failed}], counts={})
    lines = block(raw, [Path("reports/signoff.html")]).splitlines()
    assert "1 cause, 9 scenarios affected:" in lines
    assert len(lines) <= 32  # the pytest progress above it takes the rest of a 40-line screen


def test_a_cause_of_thirty_scenarios_lists_ten_and_counts_the_rest() -> None:
    failed = [
        {
            "name": f"Scenario {n}",
            "priority": "p2",
            "outcome": "failed",
            "attempts": ["failed"],
            "diagnosis": {"component": "queue", "message": "the broker does not answer"},
        }
        for n in range(30)
    ]
    raw = record(features=[{"scenarios": failed}], counts={})
    lines = block(raw, [Path("reports/signoff.html")]).splitlines()
    assert "1 cause, 30 scenarios affected:" in lines
    assert "     ... and 20 more (every one in signoff.html, or with -v)" in lines
    assert len(lines) <= 32
    assert "     [p2] Scenario 29" in block(raw, [], verbose=True).splitlines()


def test_the_scope_is_on_the_first_and_the_last_line() -> None:
    raw = record(verdict="GO", exit_code=0, reason="9 of 24 scenarios passed", features=[],
                 scope="read-only checks")  # fmt: skip
    lines = block(raw, []).splitlines()
    assert "qtask-verify: GO (read-only checks)" in lines[0]
    assert lines[-1] == "GO (read-only checks): 9 of 24 scenarios passed (exit 0)"


def test_failed_preflight_lines_are_shown() -> None:
    failed = {"ok": False, "duration_s": 0.1, "failures": ["database: password refused"]}
    text = block(record(preflight=failed, features=[]), [])
    assert "preflight failed:\n  - database: password refused" in text
