"""history.jsonl grows by one line per run and feeds the page's trend, even when damaged."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from conftest import RunFactory
from signoff_dom import parse

from qtask_verify.reports.signoff import publish


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def test_history_grows_by_one_line_per_run(make_run: RunFactory, tmp_path: Path) -> None:
    for n, kind in enumerate(["go", "nogo", "preflight"], start=1):
        published = publish(make_run(kind, run_id=str(uuid.uuid4())), tmp_path)
        assert published.history_appended
        assert len(_lines(published.history)) == n


def test_a_line_records_what_the_trend_and_an_audit_need(
    make_run: RunFactory, tmp_path: Path
) -> None:
    entry = json.loads(_lines(publish(make_run("nogo"), tmp_path).history)[0])
    assert entry["schema"] == "qtask-verify/history/1"
    assert (entry["time"], entry["environment"], entry["verdict"], entry["duration_s"]) == (
        "2026-11-24T08:15:41+00:00",
        "staging",
        "NO-GO",
        41.0,
    )
    by_name = {s["name"]: s for s in entry["scenarios"]}
    assert by_name["A Bell circuit completes"]["outcome"] == "failed"
    assert by_name["A Bell circuit completes"]["duration_s"] == 30.4
    flaky = by_name["Every transition is recorded in order"]
    assert (flaky["outcome"], flaky["attempts"]) == ("flaky", ["failed", "passed"])
    assert by_name["A task survives a broker restart"]["outcome"] == "not run by policy"
    perf = {m["name"]: m for m in entry["performance"]}
    assert perf["end-to-end time"]["p95"] == 12500.0
    assert perf["end-to-end time"]["passed"] is False


def test_publishing_the_same_run_twice_records_it_once(
    make_run: RunFactory, tmp_path: Path
) -> None:
    run = make_run("go")
    assert publish(run, tmp_path).history_appended
    second = publish(run, tmp_path)
    assert not second.history_appended
    assert len(_lines(second.history)) == 1


def test_trend_shows_the_last_runs_of_this_environment_newest_first(
    make_run: RunFactory, tmp_path: Path
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    publish(make_run("go", run_id=ids[0]), tmp_path)
    publish(make_run("nogo", run_id=ids[1]), tmp_path)
    other = make_run("go", run_id=str(uuid.uuid4()))
    other["environment"]["name"] = "local"
    publish(other, tmp_path)
    html = publish(make_run("go", run_id=ids[2]), tmp_path).html.read_text("utf-8")
    rows = parse(html).one("id", "trend-table").find_all("data-run-id", tag="tr")
    assert [r.attrs["data-run-id"] for r in rows] == [ids[2], ids[1], ids[0]]
    assert [r.attrs["data-verdict"] for r in rows] == ["GO", "NO-GO", "GO"]
    assert rows[0].attrs.get("aria-current") == "true"
    assert "12.3 s" in rows[0].text and "820 ms" in rows[0].text
    assert "12,500 ms (over)" in rows[1].text


def test_a_corrupt_line_is_skipped_with_a_note(make_run: RunFactory, tmp_path: Path) -> None:
    first = publish(make_run("go", run_id=str(uuid.uuid4())), tmp_path)
    with first.history.open("a", encoding="utf-8") as fh:
        fh.write('{"verdict": "GO", "environment": "stag')  # a writer died mid-line
    published = publish(make_run("nogo"), tmp_path)
    lines = _lines(published.history)
    assert len(lines) == 3
    assert json.loads(lines[2])["verdict"] == "NO-GO"  # ours started on a line of its own
    dom = parse(published.html.read_text("utf-8"))
    assert "line 2" in dom.one("id", "history-note").text
    assert len(dom.one("id", "trend-table").find_all("data-run-id", tag="tr")) == 2


def test_a_fast_no_go_never_draws_a_smaller_bar_than_a_go(
    make_run: RunFactory, tmp_path: Path
) -> None:
    publish(make_run("go", run_id=str(uuid.uuid4()), duration_s=20.0), tmp_path)
    html = publish(make_run("nogo", duration_s=2.0), tmp_path).html.read_text("utf-8")
    bars = [e for e in parse(html).find_all("data-scaled") if e.tag == "rect"]
    heights = [(b.attrs["data-scaled"], float(b.attrs["height"])) for b in bars]
    assert heights[0][0] == "yes" and heights[1][0] == "no"
    assert heights[1][1] >= heights[0][1]  # the 2 s NO-GO is drawn at full height


def test_the_trend_table_scrolls_inside_its_card(make_run: RunFactory, tmp_path: Path) -> None:
    html = publish(make_run("go"), tmp_path).html.read_text("utf-8")
    table = parse(html).one("id", "trend-table")
    assert table.parent is not None and table.parent.attrs.get("class") == "table-scroll"
    assert ".table-scroll { overflow-x: auto" in html
