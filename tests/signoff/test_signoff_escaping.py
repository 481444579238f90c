"""Text from feature files and error messages is shown as text, never interpreted as HTML."""

from __future__ import annotations

from pathlib import Path

from conftest import RunFactory
from signoff_dom import parse

from qtask_verify.reports.signoff import publish

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>" data-verdict="GO'


def test_hostile_text_everywhere_is_escaped(make_run: RunFactory, tmp_path: Path) -> None:
    run = make_run("nogo")
    run["reason"] = HOSTILE
    run["environment"]["name"] = HOSTILE
    run["preflight"]["failures"] = [HOSTILE]
    run["components"][0]["detail"] = HOSTILE
    run["fingerprint"][HOSTILE] = HOSTILE
    feature = run["features"][1]
    feature["name"] = feature["description"] = HOSTILE
    bell = feature["scenarios"][0]
    bell["name"] = HOSTILE
    bell["tags"] = [HOSTILE]
    bell["steps"][3]["text"] = HOSTILE
    bell["steps"][3]["keyword"] = HOSTILE
    bell["diagnosis"]["message"] = HOSTILE
    bell["timeline"][0]["observation"] = HOSTILE
    run["performance"][0]["name"] = HOSTILE
    html = publish(run, tmp_path).html.read_text("utf-8")

    assert "<script" not in html
    assert "<img" not in html
    dom = parse(html)
    # The injected attribute did not land on any element: only the real verdict carries one.
    assert {e.attrs["data-verdict"] for e in dom.find_all("data-verdict")} <= {"NO-GO"}
    scenario = dom.one("data-scenario", HOSTILE, tag="article")
    assert HOSTILE in scenario.text
    assert HOSTILE in scenario.one("data-diagnosis").text
    assert scenario.attrs["data-outcome"] == "failed"
