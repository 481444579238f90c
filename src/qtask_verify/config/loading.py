"""Loading a profile of ``environments.toml``: files, env files, variables and overrides.

A run verifies one *environment*: a named profile (local, staging, production) whose URLs the
process environment may override.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ConfigurationError
from .schema import ControllerSettings, Environment, Expectations, IndexExpectation, Thresholds

ENV_VARIABLES = {
    "api_url": "QTASK_API_URL",
    "database_url": "QTASK_DATABASE_URL",
    "amqp_url": "QTASK_AMQP_URL",
    "management_url": "QTASK_MANAGEMENT_URL",
    "management_user": "QTASK_MANAGEMENT_USER",
    "management_password": "QTASK_MANAGEMENT_PASSWORD",
}
DEFAULT_ENVIRONMENTS_FILE = "environments.toml"

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_variables(text: str, environ: Mapping[str, str]) -> str:
    """Expand ``${NAME}`` and ``${NAME:-default}`` from ``environ`` (unset or empty -> default)."""
    return _VARIABLE.sub(lambda m: environ.get(m["name"]) or (m["default"] or ""), text)


def read_env_file(path: Path) -> dict[str, str]:
    """Read dotenv lines (``NAME=value``, optional ``export``, quotes, ``#`` comments)."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigurationError(f"cannot read env file {path}: {error.strerror}") from None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigurationError(f"{path}:{number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _checked(value: Any, default: Any, where: str) -> Any:
    """Return ``value`` converted to the type of ``default``, or raise ConfigurationError."""
    if isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        expected = "a list of strings"
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
        expected = "true or false"
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        expected = "a number"
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        expected = "an integer"
    else:
        if isinstance(value, str):
            return value
        expected = "a string"
    raise ConfigurationError(f"{where}: expected {expected}, got {value!r}")


def _build(cls: type[Any], table: Mapping[str, Any], where: str) -> Any:
    defaults = cls()
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return cls(
        **{
            key: _checked(value, getattr(defaults, key), f"{where}.{key}")
            for key, value in table.items()
        }
    )


def _expectations(table: Mapping[str, Any], where: str) -> Expectations:
    table = dict(table)
    raw_indexes = table.pop("indexes", {})
    indexes: dict[str, IndexExpectation] = {}
    for name, spec in raw_indexes.items():
        try:
            indexes[name] = IndexExpectation(str(spec["table"]), tuple(spec["columns"]))
        except (KeyError, TypeError):
            raise ConfigurationError(
                f"{where}.indexes.{name}: expected {{ table = ..., columns = [...] }}"
            ) from None
    expectations: Expectations = _build(Expectations, table, where)
    return Expectations(
        **{
            f.name: getattr(expectations, f.name)
            for f in fields(Expectations)
            if f.name != "indexes"
        },
        indexes=indexes,
    )


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_environment(
    name: str | None = None,
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Environment:
    """Load profile ``name`` (QTASK_ENV, else the file's default) from ``path``.

    ``path`` defaults to QTASK_ENVIRONMENTS_FILE, else ``./environments.toml``. Connection settings
    come from ``environ`` (the process environment) first, then the profile's env_file, then the
    profile. Raises :class:`ConfigurationError` with one line saying what is wrong.
    """
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("QTASK_ENVIRONMENTS_FILE") or DEFAULT_ENVIRONMENTS_FILE)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"environments file not found: {path}") from None
    except OSError as error:
        raise ConfigurationError(
            f"cannot read environments file {path}: {error.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"environments file {path} is not valid TOML: {error}") from None

    profiles = document.get("profiles", {})
    name = name or environ.get("QTASK_ENV") or document.get("default") or "local"
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigurationError(f"unknown environment {name!r} in {path} (known: {known})")
    profile = dict(profiles[name])
    where = f"{path}: profiles.{name}"
    base_dir = path.resolve().parent

    expectations = _expectations(
        _merged(document.get("expectations", {}), profile.pop("expectations", {})),
        f"{where}.expectations",
    )
    thresholds: Thresholds = _build(
        Thresholds,
        _merged(document.get("thresholds", {}), profile.pop("thresholds", {})),
        f"{where}.thresholds",
    )
    controller = _controller(profile.pop("controller", None), base_dir, environ, where)

    file_values: dict[str, str] = {}
    env_file = profile.pop("env_file", None)
    env_file_path = base_dir / expand_variables(env_file, environ) if env_file else None
    if env_file_path is not None and env_file_path.exists():
        file_values = read_env_file(env_file_path)

    settings: dict[str, str | None] = {}
    for key, variable in ENV_VARIABLES.items():
        settings[key] = environ.get(variable) or file_values.get(variable) or profile.pop(key, None)
    profile = {k: v for k, v in profile.items() if k not in ENV_VARIABLES}

    missing = [
        ENV_VARIABLES[k]
        for k in ("api_url", "database_url", "amqp_url", "management_url")
        if not settings[k]
    ]
    if missing:
        hint = (
            f"{env_file_path} does not exist (is the local stack up? `qtask-stack up`)"
            if env_file_path is not None and not env_file_path.exists()
            else "set them in the environment or in the profile"
        )
        raise ConfigurationError(f"environment {name!r}: {', '.join(missing)} not set; {hint}")

    allow_mutating = profile.pop("allow_mutating", False)
    allow_disruption = profile.pop("allow_disruption", False)
    live_traffic = profile.pop("live_traffic", False)
    read_only_account = profile.pop("read_only_account", False)
    description = profile.pop("description", "")
    if profile:
        raise ConfigurationError(f"{where}: unknown key(s) {', '.join(sorted(profile))}")
    policy = {
        "allow_mutating": allow_mutating,
        "allow_disruption": allow_disruption,
        "live_traffic": live_traffic,
        "read_only_account": read_only_account,
    }
    for key, value in policy.items():
        if not isinstance(value, bool):
            raise ConfigurationError(f"{where}.{key}: expected true or false")

    management_url = str(settings["management_url"])
    parts = urlsplit(management_url)
    user = settings["management_user"] or (unquote(parts.username) if parts.username else None)
    password = settings["management_password"] or (
        unquote(parts.password) if parts.password else None
    )
    if user is None and password is None:  # a broker commonly shares its AMQP credentials
        amqp = urlsplit(str(settings["amqp_url"]))
        user = unquote(amqp.username) if amqp.username else None
        password = unquote(amqp.password) if amqp.password else None

    return Environment(
        name=name,
        api_url=str(settings["api_url"]).rstrip("/"),
        database_url=str(settings["database_url"]),
        amqp_url=str(settings["amqp_url"]),
        management_url=management_url.rstrip("/"),
        management_user=user,
        management_password=password,
        allow_mutating=allow_mutating,
        read_only_account=read_only_account,
        expectations=expectations,
        thresholds=thresholds,
        controller=controller,
        allow_disruption=allow_disruption,
        live_traffic=live_traffic,
        description=str(description),
        source=path,
    )


def _controller(
    table: Mapping[str, Any] | None, base_dir: Path, environ: Mapping[str, str], where: str
) -> ControllerSettings | None:
    if not table:
        return None
    table = dict(table)
    for action in ("stop", "start", "kill"):
        if action in table:
            if not isinstance(table[action], str):
                raise ConfigurationError(f"{where}.controller.{action}: expected a command string")
            table[action] = expand_variables(table[action], environ)
    settings: ControllerSettings = _build(ControllerSettings, table, f"{where}.controller")
    return ControllerSettings(
        stop=settings.stop,
        start=settings.start,
        kill=settings.kill,
        timeout_s=settings.timeout_s,
        working_directory=base_dir,
    )
