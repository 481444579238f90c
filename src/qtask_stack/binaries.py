"""Where the system binaries of PostgreSQL, RabbitMQ and Erlang's epmd are, and how to get them.

The stack runs the Debian packages' binaries directly (not their service wrappers, which switch
user and read the system's configuration). When they are missing, root gets them installed with
apt-get; anyone else gets one line naming the exact packages, because only root can install them.
An explicit binary directory (configuration or environment) is never "fixed" by installing: if it
lacks the binaries, that is reported, since installing Debian packages would not fill it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from qtask_stack.errors import MissingBinaryError

POSTGRES_PACKAGE = "postgresql"
RABBITMQ_PACKAGE = "rabbitmq-server"
POSTGRES_BIN_ENV = "QTASK_STACK_POSTGRES_BIN_DIR"
RABBITMQ_BIN_ENV = "QTASK_STACK_RABBITMQ_BIN_DIR"

_POSTGRES_TOOLS = ("initdb", "postgres", "pg_isready", "psql")
_RABBITMQ_TOOLS = ("rabbitmq-server",)
_POSTGRES_ROOT = Path("/usr/lib/postgresql")
_RABBITMQ_DEFAULT = Path("/usr/lib/rabbitmq/bin")
_EPMD_CANDIDATES = (Path("/usr/lib/erlang/bin/epmd"), Path("/usr/bin/epmd"))


@dataclass(frozen=True)
class Binaries:
    """The resolved binary locations a stack needs."""

    postgres_bin: Path
    rabbitmq_bin: Path
    epmd: Path

    def postgres(self, tool: str) -> str:
        """Path of one PostgreSQL program, e.g. `initdb`."""
        return str(self.postgres_bin / tool)

    def rabbitmq(self, tool: str) -> str:
        """Path of one RabbitMQ script, e.g. `rabbitmq-server`."""
        return str(self.rabbitmq_bin / tool)


def missing_packages_message(packages: list[str], *, is_root: bool) -> str:
    """The one line that names what to install; root is told that installing failed instead."""
    names = " ".join(packages)
    if is_root:
        return (
            f"missing Debian packages: {names}; installing them with apt-get did not provide them"
        )
    return f"missing Debian packages: {names}; install them with: sudo apt-get install {names}"


def resolve_binaries(
    postgres_bin_dir: Path | None = None,
    rabbitmq_bin_dir: Path | None = None,
    *,
    install: bool | None = None,
) -> Binaries:
    """Find the binaries, installing the Debian packages first when root and something is missing.

    `install` defaults to "am I root"; explicit directories (arguments or the
    `QTASK_STACK_*_BIN_DIR` variables) are checked as given and never trigger an installation.
    """
    postgres_bin_dir = postgres_bin_dir or _env_path(POSTGRES_BIN_ENV)
    rabbitmq_bin_dir = rabbitmq_bin_dir or _env_path(RABBITMQ_BIN_ENV)
    is_root = os.geteuid() == 0
    if install is None:
        install = is_root

    explicit_missing = [
        f"{directory} lacks {', '.join(tools)}"
        for directory, tools in (
            (postgres_bin_dir, _POSTGRES_TOOLS),
            (rabbitmq_bin_dir, _RABBITMQ_TOOLS),
        )
        if directory is not None and not _has_tools(directory, tools)
    ]
    if explicit_missing:
        raise MissingBinaryError(
            "binary directory override: "
            + "; ".join(explicit_missing)
            + f" (unset {POSTGRES_BIN_ENV}/{RABBITMQ_BIN_ENV} to use the Debian packages"
            f" {POSTGRES_PACKAGE}, {RABBITMQ_PACKAGE})"
        )

    found = _search(postgres_bin_dir, rabbitmq_bin_dir)
    missing = _missing_packages(found)
    if missing and install:
        _apt_install(missing)
        found = _search(postgres_bin_dir, rabbitmq_bin_dir)
        missing = _missing_packages(found)
    if missing:
        raise MissingBinaryError(missing_packages_message(missing, is_root=is_root))
    postgres_bin, rabbitmq_bin, epmd = found
    assert postgres_bin is not None and rabbitmq_bin is not None and epmd is not None
    return Binaries(postgres_bin=postgres_bin, rabbitmq_bin=rabbitmq_bin, epmd=epmd)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _has_tools(directory: Path, tools: tuple[str, ...]) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in tools)


def _search(
    postgres_bin_dir: Path | None, rabbitmq_bin_dir: Path | None
) -> tuple[Path | None, Path | None, Path | None]:
    postgres_bin = postgres_bin_dir or _newest_postgres()
    rabbitmq_bin = rabbitmq_bin_dir or (
        _RABBITMQ_DEFAULT if _has_tools(_RABBITMQ_DEFAULT, _RABBITMQ_TOOLS) else None
    )
    epmd = next((path for path in _EPMD_CANDIDATES if os.access(path, os.X_OK)), None)
    return postgres_bin, rabbitmq_bin, epmd


def _newest_postgres() -> Path | None:
    """The highest installed major version, since Debian may keep several side by side."""
    candidates = [
        path / "bin"
        for path in _POSTGRES_ROOT.glob("*")
        if re.fullmatch(r"\d+", path.name) and _has_tools(path / "bin", _POSTGRES_TOOLS)
    ]
    return max(candidates, key=lambda path: int(path.parent.name), default=None)


def _missing_packages(found: tuple[Path | None, Path | None, Path | None]) -> list[str]:
    postgres_bin, rabbitmq_bin, epmd = found
    missing = []
    if postgres_bin is None:
        missing.append(POSTGRES_PACKAGE)
    if rabbitmq_bin is None or epmd is None:
        missing.append(RABBITMQ_PACKAGE)
    return missing


def _apt_install(packages: list[str]) -> None:
    """Install with apt-get, quietly; a failure is reported by the caller's second search."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"qtask-stack: installing Debian packages: {' '.join(packages)}", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
