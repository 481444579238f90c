"""The sign-off page in a real browser (Debian's headless Chromium): DOM and pixels."""

from __future__ import annotations

import uuid
from pathlib import Path

import headless_chromium
import pytest
from conftest import RunFactory
from signoff_dom import parse

from qtask_verify.reports.signoff import publish

pytestmark = pytest.mark.skipif(
    not headless_chromium.available(),
    reason="chromium is not installed: run scripts/install-system-deps (apt-get install chromium)",
)

NOGO_RED = (0xB3, 0x26, 0x1E)  # --nogo in signoff.css
GO_GREEN = (0x13, 0x7A, 0x3D)  # --go


def _share_of_colour(png: Path, colour: tuple[int, int, int], top_rows: int) -> float:
    """Share of the pixels in the top rows that are (nearly) `colour`."""
    width, _, rows = headless_chromium.read_png(png)
    hits = total = 0
    for row in rows[:top_rows]:
        for x in range(0, width, 4):
            r, g, b = row[3 * x : 3 * x + 3]
            total += 1
            hits += abs(r - colour[0]) + abs(g - colour[1]) + abs(b - colour[2]) < 24
    return hits / total


def _two_scenarios_one_cause(make_run: RunFactory) -> dict:
    """The NO-GO run where the missing workers also fail the consumers scenario."""
    run = make_run("nogo")
    run["features"][0]["scenarios"][1].update(
        outcome="failed",
        attempts=["failed"],
        diagnosis={"component": "workers", "message": "0 worker(s) consume quantum_tasks"},
    )
    return run


@pytest.fixture
def nogo_page(make_run: RunFactory, tmp_path: Path) -> Path:
    publish(make_run("go", run_id=str(uuid.uuid4())), tmp_path)
    return publish(_two_scenarios_one_cause(make_run), tmp_path).html


def test_chromium_reads_verdict_scenarios_and_steps(make_run: RunFactory, nogo_page: Path) -> None:
    dom = parse(headless_chromium.dump_dom(nogo_page))
    assert dom.one("id", "verdict").attrs["data-verdict"] == "NO-GO"
    assert "NO-GO" in dom.one("id", "verdict-word").text
    summary = dom.one("id", "causes-summary")
    assert summary.text == "1 cause, 2 scenarios affected"
    [cause] = dom.find_all("data-cause", tag="li")
    assert cause.attrs["data-component"] == "workers"
    assert [
        li.attrs["data-affected-scenario"] for li in cause.find_all("data-affected-scenario")
    ] == [
        "At least one worker consumes the task queue",
        "A Bell circuit completes",
    ]
    run = make_run("nogo")
    names = [s["name"] for f in run["features"] for s in f["scenarios"]]
    articles = dom.find_all("data-scenario", tag="article")
    assert [a.attrs["data-scenario"] for a in articles] == names
    assert [a.attrs["data-outcome"] for a in articles] == [
        "passed",
        "failed",
        "failed",
        "flaky",
        "not run by policy",
    ]
    bell = dom.one("data-scenario", "A Bell circuit completes", tag="article")
    assert [s.attrs["data-step-outcome"] for s in bell.find_all("data-step-outcome")] == [
        "passed",
        "passed",
        "passed",
        "failed",
        "not run",
    ]
    assert "no worker is consuming quantum_tasks" in bell.one("data-diagnosis").text
    assert len(dom.one("id", "trend-table").find_all("data-run-id", tag="tr")) == 2


def test_screenshot_shows_the_styled_verdict(
    make_run: RunFactory, nogo_page: Path, tmp_path: Path
) -> None:
    """The inline stylesheet is applied (the page's CSP lets it through): the banner is red."""
    shot = headless_chromium.screenshot(nogo_page, tmp_path / "nogo.png", height=900)
    width, height, _ = headless_chromium.read_png(shot)
    assert (width, height) == (1280, 900)
    assert _share_of_colour(shot, NOGO_RED, top_rows=400) > 0.15
    assert _share_of_colour(shot, GO_GREEN, top_rows=400) < 0.01

    go_page = publish(make_run("go"), tmp_path / "go").html
    go_shot = headless_chromium.screenshot(go_page, tmp_path / "go.png", height=900)
    assert _share_of_colour(go_shot, GO_GREEN, top_rows=400) > 0.15
