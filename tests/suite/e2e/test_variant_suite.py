"""The suite against the variant: a second, differently built implementation of the contract.

One variant stack (the reference service with `VARIANT_ENVIRONMENT`, on `VARIANT_VHOST`) serves
the whole module. Without a profile, the default run names each difference the variant is
allowed (its Alembic revision, its queue's names) and crashes nowhere; `qtask-verify discover`
drafts, within 5 s, a profile that adopts them, and with it the default run is GO; with that
profile in force, each real violation injected into the variant (a contract column dropped, the
history cascade removed, 200 on invalid input, a queue without dead-lettering) is caught by the
scenario that should catch it, with its cause. Each violation is restored before the next test.
The tests run in file order: the GO run must see the variant whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from qtask_service.settings import VARIANT_ENVIRONMENT, VARIANT_VHOST
from qtask_stack import temporary_stack
from tests.suite.e2e.variant_lab import Discovery, VariantLab, diagnoses, raw_errors
from tests.support.verify_process import REPOSITORY, VerifyRun

DISCOVER_WITHIN_S = 5.0
QUEUE = VARIANT_ENVIRONMENT["QTASK_SERVICE_QUEUE_NAME"]
VARIANT_HEAD = "e94c8d13b5f0"  # the variant's own Alembic head
PROFILE = "variant"  # not in environments.toml: discover names its draft so

REVISION = "The database is migrated to the expected revision"
HOLDS_QUEUE = "The broker answers and holds the task queue"
TASKS_COLUMNS = "The tasks table has the contract's columns"
HISTORY_COLUMNS = "The status history table has the contract's columns"
STATUSES = "A task's status is one of the four contract statuses"
INDEXES = "Tasks and their history have the expected indexes"
CASCADE = "A status history entry belongs to a task and goes with it"
INVALID_REFUSED = "An invalid submission is refused and stores nothing"
DEAD_LETTERING = "Rejected messages go to the dead-letter queue"
# What the variant may differ in that only a profile can adopt: the scenarios these names fail.
NAMED_DIFFERENCES = {
    REVISION,
    HOLDS_QUEUE,
    "At least one worker consumes the task queue",
    "The dead-letter queue is not growing",
    "The task queue survives a broker restart",
    DEAD_LETTERING,
    "Enough workers consume the task queue",
    "No queue setting drops or expires a waiting task",
}
# What the suite matches by structure: the variant passes them without a profile.
MATCHED_BY_STRUCTURE = (TASKS_COLUMNS, HISTORY_COLUMNS, STATUSES, INDEXES, CASCADE)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VariantLab]:
    with temporary_stack(workers=1, extra_env=VARIANT_ENVIRONMENT, vhost=VARIANT_VHOST) as stack:
        yield VariantLab(stack, tmp_path_factory.mktemp("variant"))


@pytest.fixture(scope="module")
def without_profile(lab: VariantLab) -> VerifyRun:
    """The default run before anything is broken, as a new user would start: a profile of the
    shipped file that adopts nothing (`staging`: mutating, no controller) and the variant's
    `QTASK_*` variables."""
    return lab.verify(["--env", "staging"])


@pytest.fixture(scope="module")
def discovered(lab: VariantLab, without_profile: VerifyRun) -> Discovery:
    return lab.discover("--env", PROFILE)


@pytest.fixture(scope="module")
def profile(lab: VariantLab, discovered: Discovery) -> dict[str, str]:
    """The variables of a run with the discovered profile appended, as it is, to a copy of
    environments.toml: `QTASK_ENVIRONMENTS_FILE` and the profile's name."""
    assert discovered.code == 0, discovered.table[-3000:]
    name = discovered.profile_name
    assert name == PROFILE, f"no [profiles.{PROFILE}] table in the draft:\n{discovered.draft}"
    environments = lab.work / "environments.toml"
    original = (REPOSITORY / "environments.toml").read_text(encoding="utf-8")
    environments.write_text(f"{original.rstrip()}\n\n{discovered.draft}", encoding="utf-8")
    return {
        "QTASK_ENVIRONMENTS_FILE": str(environments),
        "name": name,
        "draft": discovered.draft,
    }


def discovered_expectations(draft: str) -> list[str]:
    """The draft's TOML lines, comments and the description (it names the API's URL) aside."""
    lines = [line.split("#", 1)[0].strip() for line in draft.splitlines()]
    return [line for line in lines if line and not line.startswith("description")]


def verify_with_profile(lab: VariantLab, profile: dict[str, str], *args: str) -> VerifyRun:
    return lab.verify(
        ["--env", profile["name"], *args],
        QTASK_ENVIRONMENTS_FILE=profile["QTASK_ENVIRONMENTS_FILE"],
    )


def caught(run: VerifyRun, scenario: str, verdict: str, fragment: str) -> None:
    """The run's verdict, the failing scenario and a pattern of its diagnosis; nothing raw."""
    found = diagnoses(run)
    summary = f"{run.verdict}: {run.record.get('reason')}\n{found}\n{run.output[-2000:]}"
    assert run.verdict == verdict, summary
    assert scenario in found, summary
    assert re.search(fragment, found[scenario]), summary
    assert raw_errors(run) == [], summary


@pytest.fixture
def whole(lab: VariantLab) -> Iterator[None]:
    """The variant is itself again after a test broke and restored it."""
    yield
    assert lab.wait_whole() == []


# --- without a profile -------------------------------------------------------------------------


def test_without_a_profile_each_difference_is_named_and_nothing_crashes(
    without_profile: VerifyRun,
) -> None:
    run = without_profile
    found = diagnoses(run)
    summary = f"{run.verdict}: {run.record.get('reason')}\n{found}\n{run.output[-2000:]}"
    assert run.record, summary  # the run finished and wrote its record
    assert run.seconds < 60, summary
    assert run.record["preflight"]["ok"] is True, summary
    assert raw_errors(run) == [], summary
    assert run.verdict == "NO-GO", summary  # the contract's queue is not where it is expected
    # Each difference is named: the revision found and the one expected, the queue expected.
    assert set(found) <= NAMED_DIFFERENCES, summary
    assert {REVISION, HOLDS_QUEUE} <= set(found), summary
    assert VARIANT_HEAD in found[REVISION] and "0002" in found[REVISION], summary
    assert "quantum_tasks" in found[HOLDS_QUEUE], summary
    # Names and types the contract leaves open are not findings (matched by structure).
    outcomes = {s["name"]: s["outcome"] for s in run.scenarios()}
    assert {name: outcomes.get(name) for name in MATCHED_BY_STRUCTURE} == dict.fromkeys(
        MATCHED_BY_STRUCTURE, "passed"
    ), summary
    assert not any("bigint" in text or "None" in text for text in found.values()), summary


# --- discover, and the profile it drafts -------------------------------------------------------


def test_discover_drafts_a_profile_within_5_s_and_no_secret(
    lab: VariantLab, discovered: Discovery
) -> None:
    assert discovered.code == 0, discovered.table[-3000:]
    assert discovered.seconds <= DISCOVER_WITHIN_S, discovered.seconds
    draft = discovered.draft
    assert discovered.profile_name, draft
    for adopted in (VARIANT_HEAD, QUEUE, VARIANT_ENVIRONMENT["QTASK_SERVICE_DEAD_LETTER_QUEUE"]):
        assert adopted in draft, draft
    assert [s for s in lab.secrets() if s in draft or s in discovered.table] == []
    # The table, side by side: what the contract says, what was found, and the assessment.
    table = discovered.table
    assert re.search(r"^\S+\s+ITEM\s+CONTRACT\s+FOUND\s+ASSESSMENT", table, re.M), table
    assert re.search(r"^queue\s+task queue\s+quantum_tasks\s+circuit_jobs\b", table, re.M), table
    assert " 0 violation(s)" in table, table


def test_with_the_discovered_profile_the_default_run_is_go(
    lab: VariantLab, profile: dict[str, str]
) -> None:
    run = verify_with_profile(lab, profile)
    summary = f"{run.verdict}: {run.record.get('reason')}\n{diagnoses(run)}\n{run.output[-3000:]}"
    assert run.code == 0, summary
    assert run.verdict == "GO", summary
    assert run.record["counts"]["failed"] == 0, summary
    assert {s["priority"] for s in run.scenarios() if s["outcome"] == "passed"} >= {"p1", "p2"}


# --- real violations, with the profile in force ------------------------------------------------


def test_a_dropped_contract_column_is_a_schema_finding_and_no_p1_crash(
    lab: VariantLab, profile: dict[str, str], whole: None
) -> None:
    with lab.column_dropped("tasks", "started_at", "timestamptz"):
        # The schema scenarios, and the P1 one that reads a stored task back.
        run = verify_with_profile(lab, profile, "-k", "p2_schema or exact_circuit")
    found = diagnoses(run)
    summary = f"{run.verdict}: {run.record.get('reason')}\n{found}\n{run.output[-2000:]}"
    assert run.verdict in ("NO-GO", "GO WITH RISKS"), summary
    assert TASKS_COLUMNS in found, summary
    assert re.search(r"^database: .*started_at", found[TASKS_COLUMNS]), summary
    assert raw_errors(run) == [], summary
    # A P1 scenario may fail (the service cannot record a start any more), never by a crash.
    p1 = [s for s in run.scenarios() if s["priority"] == "p1" and s["outcome"] == "failed"]
    assert all(s["diagnosis"]["component"] == "database" for s in p1), summary


def test_a_history_without_cascade_is_caught(
    lab: VariantLab, profile: dict[str, str], whole: None
) -> None:
    with lab.history_cascade_removed():
        run = verify_with_profile(lab, profile, "-k", "belongs_to_a_task")
        rediscovered = lab.discover("--env", PROFILE)
    caught(run, CASCADE, "GO WITH RISKS", r"^database: .*ON DELETE NO ACTION, not CASCADE")
    # discover names the violation and never adopts it: the draft's expectations are unchanged.
    assert re.search(r"history ON DELETE .*VIOLATION", rediscovered.table), rediscovered.table
    expectations = discovered_expectations(rediscovered.draft)
    assert expectations == discovered_expectations(profile["draft"]), rediscovered.draft


def test_an_api_accepting_invalid_input_is_caught(
    lab: VariantLab, profile: dict[str, str], whole: None
) -> None:
    with lab.api_wrapped("lenient_api.py"):
        run = verify_with_profile(lab, profile, "-k", "invalid_submission")
    caught(run, INVALID_REFUSED, "GO WITH RISKS", r"^api: .*200")


def test_a_queue_without_dead_lettering_is_caught(
    lab: VariantLab, profile: dict[str, str], whole: None
) -> None:
    with lab.queue_without_dead_lettering():
        run = verify_with_profile(lab, profile, "-k", "rejected_messages")
    caught(run, DEAD_LETTERING, "GO WITH RISKS", rf"^queue: .*{QUEUE}.*dead-letter")
