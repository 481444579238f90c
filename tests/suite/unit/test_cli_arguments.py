"""The pytest command line qtask-verify builds, and where it finds the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from qtask_verify.cli import DEFAULT_SELECTION, Suite, find_suite, pytest_arguments

SUITE = Suite(Path("/repo"), "from the current directory")


def test_every_report_goes_to_the_report_dir_and_pytest_asyncio_is_off() -> None:
    arguments = pytest_arguments(SUITE, Path("/out"), 0, [])
    joined = " ".join(arguments)
    assert "-c /repo/suite.ini" in joined
    assert "-p no:asyncio" in joined
    assert "--html /out/report.html --self-contained-html" in joined
    assert "--json-report-file /out/report.json" in joined
    assert "--junitxml /out/junit.xml" in joined
    assert "--cucumberjson /out/cucumber.json" in joined
    assert "--qtask-report-dir /out" in joined
    assert "--reruns" not in arguments


def test_without_a_tag_filter_the_release_gate_p1_and_p2_runs() -> None:
    arguments = pytest_arguments(SUITE, Path("/out"), 0, ["-k", "health"])
    assert arguments[-4:] == ["-m", DEFAULT_SELECTION, "-k", "health"]
    assert DEFAULT_SELECTION == "not p3"


@pytest.mark.parametrize("extra", [["-m", "p1"], ["-mp3"], ["-n", "2", "-m", "p1 or p3"]])
def test_a_user_tag_filter_replaces_the_default(extra: list[str]) -> None:
    arguments = pytest_arguments(SUITE, Path("/out"), 2, extra)
    assert DEFAULT_SELECTION not in arguments
    assert arguments[-len(extra) :] == extra
    assert arguments[arguments.index("--reruns") + 1] == "2"


def test_suite_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "suite.ini").write_text("[pytest]\n")
    below = tmp_path / "steps" / "deeper"
    below.mkdir(parents=True)
    suite = find_suite(below)
    assert suite == Suite(tmp_path, "from the current directory")
