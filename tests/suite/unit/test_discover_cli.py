"""`qtask-verify discover` as a command: configuration errors, unreachable and silent components.

No deployment needed: closed ports refuse at once, a listening socket that never answers is
silent; either way every component is named in one line within the 5 s bound.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.verify_process import QTASK_VERIFY, REPOSITORY

SECRET = "s3cr%t-pass"


def discover(*args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("QTASK_", "PYTEST_"))}
    started = time.monotonic()
    result = subprocess.run(
        [str(QTASK_VERIFY), "discover", *args],
        cwd=REPOSITORY,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def variables(api: int, database: int, broker: int) -> dict[str, str]:
    quoted = SECRET.replace("%", "%25")
    return {
        "QTASK_API_URL": f"http://127.0.0.1:{api}",
        "QTASK_DATABASE_URL": f"postgresql://someone:{quoted}@127.0.0.1:{database}/qtask",
        "QTASK_AMQP_URL": f"amqp://someone:{quoted}@127.0.0.1:{broker}/",
        "QTASK_MANAGEMENT_URL": f"http://127.0.0.1:{broker}",
        "QTASK_MANAGEMENT_PASSWORD": SECRET,
    }


def assert_each_component_named_once(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.startswith("qtask-verify discover: ")]
    for component in ("api", "database", "queue"):
        assert (
            len(
                [line for line in lines if line.startswith(f"qtask-verify discover: {component}: ")]
            )
            == 1
        )
    assert "Traceback" not in stderr
    assert SECRET not in stderr and SECRET.replace("%", "%25") not in stderr


def test_unreachable_components_are_named_in_one_line_each_and_no_draft() -> None:
    result, seconds = discover(
        "--env", "brand-new", **variables(*(closed_port() for _ in range(3)))
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert_each_component_named_once(result.stderr)
    assert "profile brand-new is new" in result.stderr
    assert seconds < 5


def test_silent_components_are_named_within_five_seconds(silent_port: int) -> None:
    result, seconds = discover("--name", "x", **variables(silent_port, silent_port, silent_port))
    assert result.returncode == 1, result.stderr
    assert_each_component_named_once(result.stderr)
    assert seconds < 5


def test_a_new_profile_without_the_variables_is_a_configuration_error() -> None:
    result, _ = discover(
        "--env", "brand-new", QTASK_ENVIRONMENTS_FILE=str(REPOSITORY / "environments.toml")
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "profile 'brand-new' is not in" in line
    assert "QTASK_API_URL" in line


def test_a_profile_name_that_toml_cannot_take_bare_is_a_usage_error(tmp_path: Path) -> None:
    result, _ = discover("--name", "my staging")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "qtask-verify discover: profile name 'my staging': use letters, digits, '-' and '_' only"
    )


def test_a_malformed_url_is_a_configuration_error() -> None:
    result, _ = discover(
        "--env", "brand-new", **(variables(1, 2, 3) | {"QTASK_DATABASE_URL": "postgres:/x"})
    )
    assert result.returncode == 2
    assert "database_url" in result.stderr
