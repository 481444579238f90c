"""How the user narrowed a run (`-m`, `-k`, `--lf`, paths), for the scope of its verdict."""

from __future__ import annotations

import pytest

from ..run.verdict import RELEASE_GATE


def selection_of(config: pytest.Config) -> str | None:
    """'-k 'killed'', '-m 'p1'; --lf', or None for the release gate (or everything)."""
    parts: list[str] = []
    markers = config.option.markexpr
    if markers and markers != RELEASE_GATE:
        parts.append(f"-m '{markers}'")
    if config.option.keyword:
        parts.append(f"-k '{config.option.keyword}'")
    if getattr(config.option, "lf", False):
        parts.append("--lf")
    if config.args_source is pytest.Config.ArgsSource.ARGS and config.args:
        parts.append(" ".join(config.args))
    return " ".join(parts) or None
