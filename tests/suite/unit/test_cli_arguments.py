"""The pytest command line qtask-verify builds, and where it finds the suite."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from qtask_verify.cli import DEFAULT_SELECTION, Suite, find_suite, pytest_arguments
from qtask_verify.plugin.startup import looking_only_flag

SUITE = Suite(Path("/repo"), "from the current directory")


def test_every_report_goes_to_the_report_dir_and_the_terminal_is_quiet() -> None:
    arguments = pytest_arguments(SUITE, Path("/out"), 0, [])
    joined = " ".join(arguments)
    assert "-c /repo/suite.ini" in joined
    assert "-o cache_dir=/out/.pytest_cache" in joined
    assert arguments[-5:-2] == ["-q", "-rN", "--qtask-quiet"]
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


@pytest.mark.parametrize("detail", ["-v", "-vv", "--tb=short", "-rA", "--full-trace"])
def test_asking_for_detail_gets_pytest_s_usual_terminal(detail: str) -> None:
    arguments = pytest_arguments(SUITE, Path("/out"), 0, [detail])
    assert "--qtask-quiet" not in arguments and "-rN" not in arguments


def test_suite_ini_turns_pytest_asyncio_off_and_keeps_the_cache_on() -> None:
    ini = configparser.ConfigParser()
    ini.read(Path(__file__).resolve().parents[3] / "suite.ini")
    addopts = ini["pytest"]["addopts"]
    assert "-p no:asyncio" in addopts
    assert "no:cacheprovider" not in addopts


@pytest.mark.parametrize(
    ("extra", "flag"),
    [(["--collect-only"], "--collect-only"), (["-k", "x", "--co"], "--co"), (["-m", "p1"], None)],
)
def test_a_run_that_only_looks_at_the_suite_is_told_apart(
    extra: list[str], flag: str | None
) -> None:
    assert looking_only_flag(extra) == flag
