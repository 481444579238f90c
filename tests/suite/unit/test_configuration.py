"""Environment profiles: file, env_file and process environment, and their errors."""

from pathlib import Path

import pytest

from qtask_verify.config import IndexExpectation, load_environment
from qtask_verify.config.schema import CONTRACT_INDEXES
from qtask_verify.errors import ConfigurationError

URLS = {
    "QTASK_API_URL": "http://127.0.0.1:8001/",
    "QTASK_DATABASE_URL": "postgresql://qtask:dbpw@127.0.0.1:5432/qtask",
    "QTASK_AMQP_URL": "amqp://qtask:mqpw@127.0.0.1:5672/",
    "QTASK_MANAGEMENT_URL": "http://127.0.0.1:15672",
}

DOCUMENT = """
default = "local"

[expectations]
queue_name = "quantum_tasks"

[thresholds]
processing_s = 10

[profiles.local]
env_file = "${STACK_DIR:-stack}/stack.env"
allow_mutating = true

[profiles.local.controller]
stop = "qtask-stack --state-dir ${STACK_DIR:-stack} stop {component}"

[profiles.production]
allow_mutating = false
api_url = "https://tasks.example.org"

[profiles.production.expectations]
min_consumers = 4
"""


@pytest.fixture
def environments_file(tmp_path: Path) -> Path:
    path = tmp_path / "environments.toml"
    path.write_text(DOCUMENT)
    return path


def test_process_environment_gives_the_urls(environments_file: Path) -> None:
    env = load_environment("production", environments_file, environ=URLS)
    assert env.api_url == "http://127.0.0.1:8001"  # trailing slash dropped
    assert env.allow_mutating is False
    assert env.expectations.min_consumers == 4
    assert env.thresholds.processing_s == 10.0


def test_profile_values_fill_what_the_environment_does_not_set(environments_file: Path) -> None:
    environ = {k: v for k, v in URLS.items() if k != "QTASK_API_URL"}
    env = load_environment("production", environments_file, environ=environ)
    assert env.api_url == "https://tasks.example.org"


def test_local_profile_reads_its_env_file_and_the_environment_wins(
    environments_file: Path,
) -> None:
    stack = environments_file.parent / "stack"
    stack.mkdir()
    (stack / "stack.env").write_text(
        "# written by qtask-stack\n"
        + "".join(f"{k}={v}\n" for k, v in URLS.items())
        + "QTASK_MANAGEMENT_USER=admin\nQTASK_MANAGEMENT_PASSWORD='mgmt pw'\n"
    )
    env = load_environment(None, environments_file, environ={"QTASK_API_URL": "http://override:1"})
    assert env.name == "local"
    assert env.api_url == "http://override:1"
    assert env.database_url == URLS["QTASK_DATABASE_URL"]
    assert (env.management_user, env.management_password) == ("admin", "mgmt pw")


def test_env_file_location_follows_the_variable(environments_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "stack.env").write_text("".join(f"export {k}={v}\n" for k, v in URLS.items()))
    env = load_environment("local", environments_file, environ={"STACK_DIR": str(other)})
    assert env.amqp_url == URLS["QTASK_AMQP_URL"]
    assert env.controller is not None
    assert env.controller.stop == f"qtask-stack --state-dir {other} stop {{component}}"


def test_management_credentials_come_from_its_url_or_else_from_amqp(
    environments_file: Path,
) -> None:
    in_url = dict(URLS, QTASK_MANAGEMENT_URL="http://ops:op%20pw@127.0.0.1:15672")
    env = load_environment("production", environments_file, environ=in_url)
    assert (env.management_user, env.management_password) == ("ops", "op pw")
    env = load_environment("production", environments_file, environ=URLS)
    assert (env.management_user, env.management_password) == ("qtask", "mqpw")


def test_secrets_and_repr_never_show_passwords(environments_file: Path) -> None:
    env = load_environment("production", environments_file, environ=URLS)
    assert {"dbpw", "mqpw"} <= set(env.secrets)
    assert "dbpw" not in repr(env) and "mqpw" not in repr(env)
    assert env.masked_urls()["database_url"] == "postgresql://qtask:***@127.0.0.1:5432/qtask"


def test_environments_file_from_variable(environments_file: Path) -> None:
    environ = dict(URLS, QTASK_ENVIRONMENTS_FILE=str(environments_file), QTASK_ENV="production")
    assert load_environment(environ=environ).name == "production"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "environments file not found"),
        ("default = [", "is not valid TOML"),
        ('[profiles.local]\nallow_mutating = "yes"', "allow_mutating: expected true or false"),
        ("[profiles.local]\nspeed = 1", "profiles.local.speed: unknown key (known: "),
        ("[profiles.local]\nallow_mutation = true", "unknown key (did you mean allow_mutating?)"),
        (
            "[profiles.local.thresholds]\nprocesing_s = 3",
            "profiles.local.thresholds.procesing_s: unknown key (did you mean processing_s?)",
        ),
        (
            "[profiles.local.expectations]\nindexes = [{ table = 't', colums = ['c'] }]",
            "expectations.indexes[0].colums: unknown key (did you mean columns?)",
        ),
        (
            "[profiles.local]\nmanagement_password = 123456",
            "management_password: expected a string",
        ),
        (
            "defualt = 'local'\n[profiles.local]",
            "unknown top-level key defualt (did you mean default?)",
        ),
        (
            "[thresholds]\nprocessing_s = 'fast'\n[profiles.local]",
            "processing_s: expected a number",
        ),
        ("[expectations]\nindexes = 3\n[profiles.local]", "expectations.indexes: expected a list"),
        (
            "[profiles.local.expectations]\nmin_consumers = 1.5",
            "min_consumers: expected an integer",
        ),
    ],
)
def test_broken_file_is_one_clear_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "environments.toml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        load_environment("local", path, environ=URLS)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert "123456" not in str(raised.value)


def test_unknown_profile_lists_the_known_ones(environments_file: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown environment 'qa'.*local, production"):
        load_environment("qa", environments_file, environ=URLS)


def test_missing_urls_point_at_the_local_stack(environments_file: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"QTASK_API_URL.*not set.*qtask-stack up"):
        load_environment("local", environments_file, environ={})


def test_the_repository_profiles_load() -> None:
    path = Path(__file__).parents[3] / "environments.toml"
    for name in ("local", "staging", "production"):
        env = load_environment(name, path, environ=URLS)
        assert env.expectations.alembic_head == "0002"
        assert env.expectations.indexes == CONTRACT_INDEXES
    assert load_environment("production", path, environ=URLS).allow_mutating is False
    assert load_environment("staging", path, environ=URLS).controller is None


def test_a_profile_value_replaces_the_default_whole(tmp_path: Path) -> None:
    """A list of indexes is the profile's, not merged with the contract's (nor with the file's
    shared table); keys the profile leaves out keep the file's, then the contract's values."""
    path = tmp_path / "environments.toml"
    path.write_text(
        "[expectations]\nqueue_name = 'jobs'\nmin_consumers = 2\n"
        "[profiles.theirs.expectations]\nmin_consumers = 3\n"
        "indexes = [{ table = 'tasks', columns = ['current_status'], name = 'idx_status' }]\n"
    )
    expectations = load_environment("theirs", path, environ=URLS).expectations
    assert expectations.indexes == (
        IndexExpectation(table="tasks", columns=("current_status",), name="idx_status"),
    )
    assert (expectations.queue_name, expectations.min_consumers) == ("jobs", 3)
    assert expectations.alembic_head == "0002"
