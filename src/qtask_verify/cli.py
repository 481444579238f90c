"""`qtask-verify`: verify a deployment, write the four reports and run.json, print the verdict.

    qtask-verify [--env NAME] [--report-dir DIR] [--rerun-failed N] [pytest arguments]
    qtask-verify restore [--env NAME]
    qtask-verify discover [--env NAME] [--name NAME]

Runs the suite (features/ + steps/) in this process under its own pytest configuration, with
pytest-asyncio off; without `-m` it runs the release gate, P1 + P2 (`-m "not p3"`). The terminal
is quiet unless asked (`-v`, `--tb=...`, `-r...`): progress, then the verdict block with failures
grouped by cause. Exit 0 GO, 1 NO-GO, 3 GO WITH RISKS, 2 nothing verified (a usage or
configuration error, a malformed URL, or a filter that selects nothing: it must never pass a
gate), 130 interrupted: Ctrl-C or SIGTERM stopped the run (within 5 s, restoring first what it had
changed; a second Ctrl-C stops at once and says what was left); the rules are
`run.verdict.RULES`. A run that only looks at the suite (`--collect-only`, `--markers`, ...)
verifies nothing: it keeps the last run's reports, writes no history line and exits as pytest
does. `restore` finishes what interrupted runs left undone on the deployment (every run also does
it first): exit 0 when nothing is left, 1 otherwise. `discover` reads the deployment (read-only,
within 5 s) and prints a draft profile and a contract | found table (`qtask_verify.discover`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TextIO

import pytest

from qtask_verify import interruption
from qtask_verify.config import Environment, load_environment
from qtask_verify.deployment.preflight import check_configuration
from qtask_verify.deployment.restoration import restore_now
from qtask_verify.discover import command as discover_command
from qtask_verify.errors import ConfigurationError
from qtask_verify.plugin.startup import STATE_DIRECTORY, looking_only_flag
from qtask_verify.redaction import Redactor
from qtask_verify.reports import signoff, terminal
from qtask_verify.run import record as runrecord
from qtask_verify.run.decision import EXIT_CONFIGURATION_ERROR
from qtask_verify.run.verdict import RELEASE_GATE

SUITE_INI = "suite.ini"
REPORT_FILES = {
    "html": "report.html",
    "json": "report.json",
    "junit": "junit.xml",
    "cucumber": "cucumber.json",
}
_EXIT_NO_GO = 1
RESTORE_LOG = "restore.log"
# How long a background `restore` waits for the interrupted run that started it to be gone.
AFTER_WITHIN_S = 30.0
# The release gate is P1 + P2. P3 (resilience) restarts parts of the deployment and takes longer:
# it runs when asked for, e.g. `-m p3` or `-m "p1 or p2 or p3"`.
DEFAULT_SELECTION = RELEASE_GATE
# Asking for pytest's own detail (tracebacks, the short summary, verbose progress).
_DETAIL_OPTIONS = ("-v", "-vv", "--verbose", "--tb", "-r", "-q", "--quiet", "--full-trace")


@dataclass(frozen=True)
class Suite:
    """Where the Gherkin suite lives and how it was found."""

    root: Path
    found: str

    @property
    def ini(self) -> Path:
        return self.root / SUITE_INI


def find_suite(cwd: Path) -> Suite | None:
    """The suite of the current directory (or a parent), else the one next to this package."""
    for directory in (cwd, *cwd.parents):
        if (directory / "features").is_dir() and (directory / SUITE_INI).is_file():
            return Suite(directory, "from the current directory")
    packaged = Path(__file__).resolve().parents[2]  # src/qtask_verify/cli.py -> repository
    if (packaged / "features").is_dir() and (packaged / SUITE_INI).is_file():
        return Suite(packaged, "next to the installed qtask_verify package")
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qtask-verify",
        description="Verify a deployment of the quantum circuit task queue and print the verdict "
        "(exit 0 GO, 1 NO-GO, 3 GO WITH RISKS, 2 usage or configuration error, 130 interrupted). "
        "Any other argument goes to pytest, e.g. -m p1, -n 2, -k health. "
        "`qtask-verify restore` finishes what interrupted runs left undone; "
        "`qtask-verify discover` drafts a profile for a deployment.",
        allow_abbrev=False,
    )
    parser.add_argument("--env", help="environment profile (default: QTASK_ENV, else the file's)")
    parser.add_argument(
        "--report-dir", type=Path, default=Path("reports"), help="default: ./reports"
    )
    # `restore --after PID`: what an interrupted run starts as it exits (see _interrupted).
    parser.add_argument("--after", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--rerun-failed",
        type=int,
        default=0,
        metavar="N",
        help="rerun a failing scenario up to N times; one that then passes is reported as flaky",
    )
    return parser


def pytest_arguments(
    suite: Suite, report_dir: Path, rerun_failed: int, extra: Sequence[str]
) -> list[str]:
    """The suite's pytest command line: its ini, every report, quiet by default, user's args."""
    reports = {kind: str(report_dir / name) for kind, name in REPORT_FILES.items()}
    arguments = [
        *_suite_arguments(suite, report_dir),
        "-p", "qtask_verify.reports.plugin",
        "--qtask-report-dir", str(report_dir),
        "--html", reports["html"], "--self-contained-html",
        "--json-report", "--json-report-file", reports["json"], "--json-report-indent", "2",
        "--junitxml", reports["junit"], "-o", "junit_suite_name=qtask-verify",
        "--cucumberjson", reports["cucumber"],
    ]  # fmt: skip
    if not asks_for_detail(extra):
        arguments += ["-q", "-rN", "--qtask-quiet"]
    if rerun_failed:
        arguments += ["--reruns", str(rerun_failed)]
    if not selects_markers(extra):
        arguments += ["-m", DEFAULT_SELECTION]
    return [*arguments, *extra]


def _suite_arguments(suite: Suite, report_dir: Path) -> list[str]:
    return [
        "-c", str(suite.ini),
        "--rootdir", str(suite.root),
        # --lf / --ff remember the last run beside its reports (suite.ini enables the cache).
        "-o", f"cache_dir={report_dir / '.pytest_cache'}",
        # In-process, qtask_verify is imported before pytest starts: nothing to rewrite there.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]  # fmt: skip


def looking_arguments(suite: Suite, report_dir: Path, extra: Sequence[str]) -> list[str]:
    """A run that only looks at the suite: no report options, the last run's reports stay."""
    return [*_suite_arguments(suite, report_dir), *extra]


def asks_for_detail(arguments: Sequence[str]) -> bool:
    """Whether the user asked for pytest's own tracebacks, summary or verbosity."""
    return any(a.startswith(_DETAIL_OPTIONS) for a in arguments)


def selects_markers(arguments: Sequence[str]) -> bool:
    """Whether the user chose scenarios by tag (`-m EXPR` or `-mEXPR`)."""
    return any(a == "-m" or (a.startswith("-m") and not a.startswith("--")) for a in arguments)


class _RedactingStream(io.TextIOBase):
    """A last line of defence: whatever pytest prints passes the deployment's redactor."""

    def __init__(self, stream: TextIO, redact: Redactor) -> None:
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        self._stream.write(self._redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


def _fail(message: str) -> int:
    print(f"qtask-verify: {message}", file=sys.stderr)
    return EXIT_CONFIGURATION_ERROR


def _per_run_files() -> tuple[str, ...]:
    return (*REPORT_FILES.values(), runrecord.FILENAME, *signoff.PER_RUN_FILES)


def _clear_previous(report_dir: Path) -> None:
    """Remove the last run's reports, so a run that dies early never shows an old verdict."""
    for name in _per_run_files():
        (report_dir / name).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qtask-verify` console script; returns the exit code."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # before or after the run: nothing of the deployment was changed
        print("qtask-verify: interrupted", file=sys.stderr)
        return interruption.EXIT_INTERRUPTED


def _environments_file() -> Path | None:
    """The environments file a run reads when neither QTASK_ENVIRONMENTS_FILE nor
    ./environments.toml names one: the suite's (None: load_environment finds it)."""
    if os.environ.get("QTASK_ENVIRONMENTS_FILE") or Path("environments.toml").is_file():
        return None
    suite = find_suite(Path.cwd())
    return suite.root / "environments.toml" if suite is not None else None


def _main(argv: list[str]) -> int:
    if argv[:1] == ["discover"]:
        return discover_command.main(argv[1:], _environments_file())
    restoring = argv[:1] == ["restore"]
    try:
        args, extra = _parser().parse_known_args(argv[1:] if restoring else argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return int(exit_.code or 0)
    if restoring and extra:
        return _fail(f"restore takes only --env, not {' '.join(extra)}")
    if args.rerun_failed < 0:
        return _fail("--rerun-failed must be 0 or more")
    if args.rerun_failed and importlib.util.find_spec("pytest_rerunfailures") is None:
        return _fail("--rerun-failed needs pytest-rerunfailures (pip install pytest-rerunfailures)")

    suite = find_suite(Path.cwd())
    if suite is None:
        return _fail(
            f"no suite found: neither {Path.cwd()} (or a parent) nor the installed package has "
            f"features/ and {SUITE_INI}"
        )
    environments = os.environ.get("QTASK_ENVIRONMENTS_FILE")
    if environments is None and not Path("environments.toml").is_file():
        environments = str(suite.root / "environments.toml")
    try:
        environment = load_environment(args.env, Path(environments) if environments else None)
        check_configuration(environment)
    except ConfigurationError as error:
        return _fail(f"configuration error: {Redactor()(str(error))}")
    if restoring:
        return _restore(environment, suite, args.after)
    # The engine's plugin (also in xdist workers) reads the same choice from the environment.
    os.environ["QTASK_ENV"] = environment.name
    if environments is not None:
        os.environ["QTASK_ENVIRONMENTS_FILE"] = str(Path(environments).resolve())

    report_dir = args.report_dir.resolve()
    looking = looking_only_flag(extra)
    if looking is None:
        _clear_previous(report_dir)
    redact = environment.redactor()
    selection = "as given" if selects_markers(extra) else f"-m '{DEFAULT_SELECTION}' (default)"
    print(
        f"qtask-verify: suite {suite.root} ({suite.found}); environment {environment.name}; "
        f"scenarios {selection}"
    )
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _RedactingStream(stdout, redact), _RedactingStream(stderr, redact)
    arguments = (
        looking_arguments(suite, report_dir, extra)
        if looking
        else pytest_arguments(suite, report_dir, args.rerun_failed, extra)
    )
    try:
        with interruption.handling_signals():
            code = pytest.main(arguments)
    finally:
        sys.stdout, sys.stderr = stdout, stderr
    if looking:
        print(f"qtask-verify: {looking}: nothing was verified (no verdict, no report, no history)")
        return int(code)
    if interruption.stopping():
        _interrupted(int(code), report_dir, environment, suite, asks_for_detail(extra))
    return _conclude(int(code), report_dir, verbose=asks_for_detail(extra))


def _restore(environment: Environment, suite: Suite, after_pid: int | None) -> int:
    """`qtask-verify restore`: finish what interrupted runs left on this deployment."""
    # aiormq logs each refused connection itself; the lines below say what happened.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    if after_pid is not None:
        _wait_gone(after_pid, AFTER_WITHIN_S)
    lines, complete = asyncio.run(restore_now(environment, suite.root / STATE_DIRECTORY))
    redact = environment.redactor()
    for line in lines:
        print(f"qtask-verify: {redact(line)}")
    return 0 if complete else _EXIT_NO_GO


def _wait_gone(pid: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _interrupted(
    pytest_code: int, report_dir: Path, environment: Environment, suite: Suite, verbose: bool
) -> NoReturn:
    """The verdict block of a stopped run; what it left is restored by a process of its own."""
    _conclude(pytest_code, report_dir, verbose=verbose)
    left = interruption.left_to_restore()
    if left:
        restorer, log = _restore_in_background(environment, suite)
        print(
            f"qtask-verify: left to restore: {environment.redactor()('; '.join(left))}; "
            f"`qtask-verify restore` finishes it in the background (pid {restorer}, log {log})",
            file=sys.stderr,
        )
    # The interpreter's own shutdown may take a second more (it winds down the event loop's
    # threads around a controller command still running): the bound is the run's, not Python's.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(interruption.EXIT_INTERRUPTED)


def _restore_in_background(environment: Environment, suite: Suite) -> tuple[int, Path]:
    """`qtask-verify restore --after <this pid>` in a session of its own, outliving this one."""
    directory = suite.root / STATE_DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / RESTORE_LOG
    argv = [sys.executable, "-m", "qtask_verify.cli", "restore", "--env", environment.name]
    with log.open("ab") as output:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        output.write(f"--- {started}: after the interrupted run {os.getpid()}\n".encode())
        output.flush()
        process = subprocess.Popen(
            [*argv, "--after", str(os.getpid())],
            cwd=Path.cwd(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid, log


def _conclude(pytest_code: int, report_dir: Path, *, verbose: bool = False) -> int:
    """Print the verdict block and choose the exit code from pytest's and the run record's."""
    if pytest_code == pytest.ExitCode.USAGE_ERROR:
        return _fail("pytest usage error (see above): check the extra pytest arguments")
    record = runrecord.read_run_record(report_dir)
    if record is None:
        if pytest_code == pytest.ExitCode.NO_TESTS_COLLECTED:
            return _fail("no scenario was collected or selected (check -m / -k)")
        print(
            f"qtask-verify: NO-GO: the run ended (pytest exit {pytest_code}) without a verdict",
            file=sys.stderr,
        )
        return _EXIT_NO_GO
    reports = [report_dir / name for name in _per_run_files()]
    print()
    print(terminal.render(record, [p for p in reports if p.exists()], verbose=verbose))
    return record.exit_code if record.exit_code is not None else _EXIT_NO_GO


if __name__ == "__main__":
    sys.exit(main())
