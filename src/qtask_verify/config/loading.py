"""Loading a profile of ``environments.toml``: files, env files, variables and overrides.

A run verifies one *environment*: a named profile (local, staging, production) whose URLs the
process environment may override.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ValidationError

from ..errors import ConfigurationError
from .schema import ControllerSettings, Environment, Expectations, Profile, Thresholds

ENV_VARIABLES = {
    "api_url": "QTASK_API_URL",
    "database_url": "QTASK_DATABASE_URL",
    "amqp_url": "QTASK_AMQP_URL",
    "management_url": "QTASK_MANAGEMENT_URL",
    "management_user": "QTASK_MANAGEMENT_USER",
    "management_password": "QTASK_MANAGEMENT_PASSWORD",
}
DEFAULT_ENVIRONMENTS_FILE = "environments.toml"
# The file's top level: shared [expectations] and [thresholds] apply to every profile.
FILE_KEYS = {"default", "expectations", "thresholds", "profiles"}

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


_ERROR_WORDS = {
    "bool_type": "expected true or false",
    "float_type": "expected a number",
    "int_type": "expected an integer",
    "string_type": "expected a string",
    "tuple_type": "expected a list",
    "model_type": "expected a table",
    "missing": "is required",
}


def _one_line(error: ValidationError, where: str, section: type[BaseModel]) -> str:
    """The first problem pydantic found, as ``FILE: profiles.NAME.KEY: what is wrong``."""
    errors = error.errors()
    # A misspelt key also makes the right one missing: the misspelling is the news.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])[1:]
    if first["type"] == "extra_forbidden":
        key = str(first["loc"][-1])
        known = _known_keys(section, first["loc"][:-1])
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(known)})"
        return f"{where}.{location}: unknown key{hint}"
    words = _ERROR_WORDS.get(first["type"], first["msg"].lower())
    key = str(first["loc"][-1]) if first["loc"] else ""
    if first["type"] == "missing" or "password" in key or key.endswith("_url"):
        return f"{where}.{location}: {words}"  # a password is never echoed
    return f"{where}.{location}: {words}, got {first['input']!r}"


def _known_keys(section: type[BaseModel], path: Sequence[Any]) -> list[str]:
    """The keys valid at ``path`` inside ``section`` (for an unknown key's hint)."""
    model: Any = section
    for part in path:
        if not isinstance(part, str):
            continue  # an index into a list of tables
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *get_args(annotation)]
        for candidate in candidates + [a for c in candidates for a in get_args(c)]:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
    return sorted(model.model_fields)


def _profile(document: Mapping[str, Any], name: str, where: str) -> Profile:
    """The profile, each of its keys replacing the file's ``[expectations]``/``[thresholds]``
    value, which replaces the model's default: a list or table is replaced whole, never merged."""
    table = dict(document["profiles"][name])
    for section in ("expectations", "thresholds"):
        shared = document.get(section, {})
        model = Expectations if section == "expectations" else Thresholds
        try:
            model.model_validate(shared)
        except ValidationError as error:
            raise ConfigurationError(_one_line(error, f"{where}: {section}", model)) from None
        own = table.get(section, {})
        table[section] = {**shared, **own} if isinstance(own, Mapping) else own
    try:
        return Profile.model_validate(table)
    except ValidationError as error:
        raise ConfigurationError(_one_line(error, where, Profile)) from None


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

    unknown = sorted(set(document) - FILE_KEYS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], FILE_KEYS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigurationError(f"{path}: unknown top-level key {unknown[0]}{hint}")
    profiles = document.get("profiles", {})
    if not isinstance(profiles, Mapping):
        raise ConfigurationError(f"{path}: [profiles] must be a table of profiles")
    name = name or environ.get("QTASK_ENV") or document.get("default") or "local"
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigurationError(f"unknown environment {name!r} in {path} (known: {known})")
    where = f"{path}: profiles.{name}"
    base_dir = path.resolve().parent
    profile = _profile(document, name, where)

    file_values: dict[str, str] = {}
    env_file = profile.env_file
    env_file_path = base_dir / expand_variables(env_file, environ) if env_file else None
    if env_file_path is not None and env_file_path.exists():
        file_values = read_env_file(env_file_path)

    settings: dict[str, str | None] = {
        key: environ.get(variable) or file_values.get(variable) or getattr(profile, key)
        for key, variable in ENV_VARIABLES.items()
    }
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
        allow_mutating=profile.allow_mutating,
        read_only_account=profile.read_only_account,
        message_tracing=profile.message_tracing,
        expectations=profile.expectations,
        thresholds=profile.thresholds,
        controller=_controller(profile.controller, base_dir, environ),
        allow_disruption=profile.allow_disruption,
        live_traffic=profile.live_traffic,
        description=profile.description,
        source=path,
    )


def _controller(
    settings: ControllerSettings | None, base_dir: Path, environ: Mapping[str, str]
) -> ControllerSettings | None:
    """The controller with ``${VAR}`` expanded and commands run from the file's folder."""
    if settings is None:
        return None
    expanded = {
        action: expand_variables(command, environ)
        for action in ("stop", "start", "kill", "trace")
        if (command := getattr(settings, action)) is not None
    }
    return settings.model_copy(update={**expanded, "working_directory": base_dir})
