"""The suite's own command-line options (``qtask-verify`` passes them; plain pytest may too)."""

from __future__ import annotations

import pytest


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("qtask-verify", "deployment verification")
    group.addoption(
        "--qtask-env",
        default=None,
        help="environment profile from environments.toml (default: QTASK_ENV, else local)",
    )
    group.addoption(
        "--qtask-preflight-timeout",
        type=float,
        default=3.0,
        help="seconds each component has to answer the preflight (default 3)",
    )


def environment_name(config: pytest.Config) -> str | None:
    name: str | None = config.getoption("qtask_env")
    return name


def preflight_timeout_s(config: pytest.Config) -> float:
    return float(config.getoption("qtask_preflight_timeout"))
