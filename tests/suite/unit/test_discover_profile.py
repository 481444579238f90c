"""`discover`'s draft profile: valid TOML that adopts allowed differences and never a violation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from qtask_verify.discover import (
    Assessment,
    Discovery,
    Draft,
    DraftIndex,
    Finding,
    render_profile,
    render_table,
)
from qtask_verify.discover.command import load_connections
from qtask_verify.discover.profile import toml_string

VARIANT = Draft(
    alembic_head="e94c8d13b5f0",
    status_type="taskstatus",
    queue_name="circuit_jobs",
    dead_letter_exchange="circuit_jobs_dead",
    dead_letter_routing_key="failed",
    dead_letter_queue="circuit_jobs_failed",
    history_foreign_key="status_history_task_id_fkey",
    indexes=(
        DraftIndex("tasks", ("current_status",), "idx_tasks_status"),
        DraftIndex("tasks", ("submitted_at",), None),
    ),
)


def discovery(draft: Draft, *findings: Finding) -> Discovery:
    return Discovery("profile x", "http://api:8001", "http://api:8001, ...", "/", findings, draft)


def test_the_draft_is_a_profile_with_every_adopted_name() -> None:
    text = render_profile(discovery(VARIANT), "variant")
    profile = tomllib.loads(text)["profiles"]["variant"]
    assert profile["allow_mutating"] is True
    assert profile["allow_disruption"] is False
    assert "submits test tasks" in text  # why it may mutate, said next to the key
    expectations = profile["expectations"]
    assert expectations == {
        "alembic_head": "e94c8d13b5f0",
        "status_type": "taskstatus",
        "queue_name": "circuit_jobs",
        "dead_letter_exchange": "circuit_jobs_dead",
        "dead_letter_routing_key": "failed",
        "dead_letter_queue": "circuit_jobs_failed",
        "history_foreign_key": "status_history_task_id_fkey",
        "indexes": [
            {"table": "tasks", "columns": ["current_status"], "name": "idx_tasks_status"},
            {"table": "tasks", "columns": ["submitted_at"]},  # missing: no name pinned
        ],
    }


def test_a_violation_is_named_in_a_comment_and_its_key_left_out() -> None:
    violation = Finding(
        "queue", "dead-letter exchange", "quantum_tasks.dlx", "none", Assessment.VIOLATION, "lost"
    )
    text = render_profile(discovery(Draft(queue_name="jobs"), violation), "new")
    assert "#   queue: dead-letter exchange: none (lost)" in text
    expectations = tomllib.loads(text)["profiles"]["new"]["expectations"]
    assert expectations == {"queue_name": "jobs"}  # the contract's dead-letter default stays


def test_the_draft_appends_to_a_file_with_other_profiles() -> None:
    existing = "[profiles.local]\nallow_mutating = true\n[profiles.local.expectations]\nx = 1\n"
    document = tomllib.loads(existing + render_profile(discovery(VARIANT), "staging-2"))
    assert set(document["profiles"]) == {"local", "staging-2"}


@pytest.mark.parametrize(
    "text", ['a"b', "back\\slash", "line\nbreak", "bell\x07", "del\x7f", "é🙂"]
)
def test_strings_survive_toml(text: str) -> None:
    assert tomllib.loads(f"key = {toml_string(text)}")["key"] == text


@pytest.mark.parametrize("name", ["", "two words", "a.b", "x]"])
def test_a_name_that_is_not_a_bare_key_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="profile name"):
        render_profile(discovery(VARIANT), name)


def test_the_table_puts_contract_and_found_side_by_side() -> None:
    rows = (
        Finding("database", "status enum", "task_status", "taskstatus", Assessment.ALLOWED, "k"),
        Finding("queue", "durability", "durable", "durable=false", Assessment.VIOLATION, "lost"),
    )
    table = render_table(discovery(VARIANT, *rows))
    header, allowed, violation = table.splitlines()[1:4]
    assert header.split() == ["COMPONENT", "ITEM", "CONTRACT", "FOUND", "ASSESSMENT"]
    assert allowed.index("taskstatus") == header.index("FOUND")
    assert allowed.endswith("allowed difference: k")
    assert violation.endswith("VIOLATION: lost")
    assert table.splitlines()[-1].startswith("0 as the contract, 1 allowed difference(s)")


URLS = {
    "QTASK_API_URL": "http://api:8001",
    "QTASK_DATABASE_URL": "postgresql://u:p@db/qtask",
    "QTASK_AMQP_URL": "amqp://u:p@mq/vh",
    "QTASK_MANAGEMENT_URL": "http://mq:15672",
}


def test_a_new_profile_takes_its_connections_from_the_variables_alone(tmp_path: Path) -> None:
    (tmp_path / "stack.env").write_text("QTASK_MANAGEMENT_USER=someone-elses\n")
    environments = tmp_path / "environments.toml"
    environments.write_text(
        'default = "local"\n[expectations]\nmax_shots = 50000\n'
        '[profiles.local]\nenv_file = "stack.env"\nallow_mutating = true\n'
    )
    environment, source = load_connections("brand-new", environments, URLS)
    assert (environment.name, source) == ("brand-new", "new")
    assert environment.management_user == "u"  # the AMQP URL's, not the default profile's file
    assert environment.expectations.max_shots == 50000  # the file's shared expectations apply
    environment, source = load_connections("local", environments, URLS)
    assert (environment.management_user, source) == ("someone-elses", "named")
    assert load_connections(None, environments, URLS)[1] == "default"
