"""`qtask-verify discover`: the command line around :func:`discover`.

    qtask-verify discover [--env NAME] [--name NAME]

Connection settings are read as a run reads them (`--env`, QTASK_ENV, the QTASK_* variables).
A new deployment has no profile yet: `--env NEW` with the QTASK_* variables set takes the
connections from them alone (the file's default profile supplies the rest) and names the draft
NEW. The draft goes to standard output, the table to standard error. Exit 0 when every component
was read, 1 when one could not be (it is named in one line), 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from ..config import DEFAULT_ENVIRONMENTS_FILE, ENV_VARIABLES, Environment, load_environment
from ..deployment.preflight import check_configuration
from ..errors import ConfigurationError
from ..redaction import Redactor
from .discovery import discover
from .profile import PROFILE_NAME, render_profile
from .table import render_table

EXIT_READ = 0
EXIT_UNREACHABLE = 1
EXIT_CONFIGURATION_ERROR = 2
DEFAULT_DRAFT_NAME = "discovered"
Source = Literal["named", "default", "new"]
# The variables a deployment without a profile must be given (user and password are optional).
_REQUIRED = tuple(
    ENV_VARIABLES[k] for k in ("api_url", "database_url", "amqp_url", "management_url")
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qtask-verify discover",
        description="Read a deployment (read-only, within 5 s) and print a draft profile that "
        "adopts every difference the contract allows (standard output) and a table contract | "
        "found | assessment (standard error). Exit 0 all read, 1 a component unreachable, 2 "
        "configuration error.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--env",
        help="profile whose connections to use; a name not in the file yet takes them from the "
        "QTASK_* variables and names the draft",
    )
    parser.add_argument(
        "--name", help=f"the draft's profile name (default: --env, else {DEFAULT_DRAFT_NAME})"
    )
    return parser


def _profiles(path: Path) -> set[str] | None:
    """The profile names of the file, or None when it cannot be read (load_environment says why)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    profiles = document.get("profiles")
    return set(profiles) if isinstance(profiles, dict) else set()


def load_connections(
    name: str | None, path: Path | None, environ: Mapping[str, str]
) -> tuple[Environment, Source]:
    """The environment to read, and where it comes from: the profile ``name``, the file's default
    profile (no name given), or a new deployment (a name the file does not have).

    A name the file does not have yet is a new deployment: it is read as the draft will be, as
    an empty ``[profiles.NAME]`` of that file (the file's shared expectations, no env_file), so
    its connections come from the QTASK_* variables alone.
    """
    file = Path(path or environ.get("QTASK_ENVIRONMENTS_FILE") or DEFAULT_ENVIRONMENTS_FILE)
    name = name or environ.get("QTASK_ENV") or None
    known = _profiles(file)
    if name is None or known is None or name in known:
        return load_environment(name, file, environ), "named" if name else "default"
    if not PROFILE_NAME.match(name):
        raise ConfigurationError(f"profile name {name!r}: use letters, digits, '-' and '_' only")
    missing = [variable for variable in _REQUIRED if not environ.get(variable)]
    if missing:
        raise ConfigurationError(
            f"profile {name!r} is not in {file} yet: to discover a new deployment, set "
            f"{', '.join(missing)}"
        )
    text = file.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="qtask-discover-") as directory:
        draft = Path(directory) / file.name
        draft.write_text(f"{text.rstrip()}\n\n[profiles.{name}]\n", encoding="utf-8")
        return load_environment(name, draft, environ), "new"


def main(argv: Sequence[str], environments: Path | None) -> int:
    """`qtask-verify discover ...`; ``environments`` is the file a run would read."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exit_:  # --help (0) or a usage error (2)
        return int(exit_.code or 0)
    draft_name = args.name or args.env or os.environ.get("QTASK_ENV") or DEFAULT_DRAFT_NAME
    if not PROFILE_NAME.match(draft_name):
        return _fail(f"profile name {draft_name!r}: use letters, digits, '-' and '_' only")
    try:
        environment, source = load_connections(args.env, environments, os.environ)
        check_configuration(environment)
    except ConfigurationError as error:
        return _fail(f"configuration error: {Redactor()(str(error))}")
    # The queue a profile names is tried first; the file's default profile names the reference's.
    queue_name = environment.expectations.queue_name if source == "named" else None
    discovery = asyncio.run(discover(environment, queue_name=queue_name))
    if source != "named":
        shown = {
            "new": f"the QTASK_* variables (profile {environment.name} is new)",
            "default": f"profile {environment.name} (the file's default)",
        }
        discovery = replace(discovery, environment=shown[source])
    redact = environment.redactor()
    print(redact(render_table(discovery)), file=sys.stderr)
    if not discovery.complete:
        print(
            "qtask-verify discover: no draft: "
            + ", ".join(u.component for u in discovery.unreachable)
            + " could not be read",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    if source == "named" and draft_name == environment.name:
        print(
            f"qtask-verify discover: profile {draft_name} already exists in "
            f"{environment.source}: merge the draft into it (or use --name for a new one)",
            file=sys.stderr,
        )
    sys.stdout.write(redact(render_profile(discovery, draft_name)))
    return EXIT_READ


def _fail(message: str) -> int:
    print(f"qtask-verify discover: {message}", file=sys.stderr)
    return EXIT_CONFIGURATION_ERROR
