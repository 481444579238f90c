"""`qtask-stack`: the command line of the local stack.

    qtask-stack [--state-dir DIR] up [--api-port N] [--workers N] [--api-cmd CMD]
                                     [--worker-cmd CMD] [--env KEY=VALUE ...]
    qtask-stack [--state-dir DIR] down | status | env
    qtask-stack [--state-dir DIR] stop | start | kill | restart COMPONENT [INDEX]

COMPONENT is api, worker (all workers, or the one numbered INDEX from 1), database or broker.
Failures print one line (the component and the last lines of its log) and exit 1; `status`
exits 1 when anything is down. Only `env` prints secrets: it is meant for
`eval "$(qtask-stack env)"`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qtask_stack.errors import StackError
from qtask_stack.stack import COMPONENTS, Stack, StackConfig, default_state_dir
from qtask_stack.status import render_table


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StackError as exc:
        print(f"qtask-stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "qtask-stack: interrupted; `qtask-stack down` stops what was started", file=sys.stderr
        )
        return 130


def _stack(args: argparse.Namespace) -> Stack:
    service_options = getattr(args, "env", None) is not None
    return Stack(
        StackConfig(
            state_dir=args.state_dir or default_state_dir(),
            api_port=getattr(args, "api_port", None),
            workers=getattr(args, "workers", None),
            api_argv=_split(getattr(args, "api_cmd", None)),
            worker_argv=_split(getattr(args, "worker_cmd", None)),
            extra_env=_env_pairs(args.env) if service_options else {},
        )
    )


def _up(args: argparse.Namespace) -> int:
    stack = _stack(args)
    started = time.monotonic()
    stack.up()
    print(f"qtask-stack: up in {time.monotonic() - started:.1f} s ({stack.state_dir})")
    print(render_table(stack.status()))
    return 0


def _down(args: argparse.Namespace) -> int:
    stack = _stack(args)
    started = time.monotonic()
    stack.down()
    print(f"qtask-stack: down in {time.monotonic() - started:.1f} s ({stack.state_dir})")
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = _stack(args).status()
    print(render_table(rows))
    return 0 if all(row.is_up for row in rows) else 1


def _env(args: argparse.Namespace) -> int:
    for key, value in _stack(args).suite_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _component_command(args: argparse.Namespace) -> int:
    stack = _stack(args)
    action = args.command
    if action in ("start", "restart"):
        override_argv = _split(args.cmd)
        override_env = _env_pairs(args.env)
        getattr(stack, action)(args.component, args.index, argv=override_argv, env=override_env)
    else:
        getattr(stack, action)(args.component, args.index)
    suffix = f" {args.index}" if args.index is not None else ""
    print(f"qtask-stack: {action} {args.component}{suffix}: done")
    return 0


def _split(command: str | None) -> list[str] | None:
    return shlex.split(command) if command else None


def _env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StackError(f"--env expects KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qtask-stack", description="The local reference deployment of the quantum task queue."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="state directory (default: $QTASK_STACK_DIR or ./.qtask-stack)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start whatever is not running and wait until ready")
    up.add_argument("--api-port", type=int, help="API port (default 8001; 0 picks a free port)")
    up.add_argument("--workers", type=int, help="number of workers (default 2)")
    up.add_argument("--api-cmd", help="command replacing `python -m qtask_service.api`")
    up.add_argument("--worker-cmd", help="command replacing `python -m qtask_service.worker`")
    up.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra variable for the API and workers (repeatable)",
    )
    up.set_defaults(handler=_up)

    for name, handler, text in (
        ("down", _down, "stop everything; no process is left behind"),
        ("status", _status, "show each component; exit 1 if any is down"),
        ("env", _env, "print the suite's variables as export lines (with secrets)"),
    ):
        commands.add_parser(name, help=text).set_defaults(handler=handler)

    for name, text in (
        ("stop", "graceful stop (SIGTERM, then SIGKILL after a grace period)"),
        ("start", "start again on the same ports and wait until ready"),
        ("kill", "SIGKILL, as a crash"),
        ("restart", "stop, then start"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("component", choices=COMPONENTS)
        command.add_argument("index", type=int, nargs="?", help="worker number, from 1")
        if name in ("start", "restart"):
            command.add_argument("--cmd", help="command replacing the api's or workers' command")
            command.add_argument(
                "--env",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="extra variable for this start (repeatable)",
            )
        command.set_defaults(handler=_component_command)
    return parser
