"""Sign-off publishing: the page product signs off from, the run history and the health verdict.

`publish(run, report_dir)` is called after every run with the run record (a
:class:`~qtask_verify.run.record.RunRecord`, or its JSON as `run.json` holds it). It renders
whatever the record holds, even a partial one, and writes:

- `signoff.html`: one self-contained page (no network) for people;
- `history.jsonl`: one line appended per run that judged the deployment (GO, GO WITH RISKS,
  NO-GO), which feeds the page's trend: an interrupted run or a configuration error adds none;
- `verdict.health.json`: the verdict as `application/health+json` for other tools.

Files are readable like the other reports (mode 0666 less the umask, 0644 by default), so an
artifact server running as another user can serve them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtask_verify.reports.signoff import health, history, page, trend
from qtask_verify.run.record import RunRecord

__all__ = ["PER_RUN_FILES", "Published", "publish"]

HTML_FILENAME = "signoff.html"
PER_RUN_FILES = (HTML_FILENAME, health.FILENAME)
"""What `publish` replaces on every run (the history only grows)."""


@dataclass(frozen=True)
class Published:
    """The files written by one `publish` call."""

    html: Path
    history: Path
    health: Path
    history_appended: bool  # False when this run id was already in the history


def _readable_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_atomically(path: Path, text: str) -> None:
    """Readers (a CI artifact upload, a browser) never see a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _readable_mode())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(run: RunRecord | Mapping[str, Any], report_dir: Path) -> Published:
    """Write the sign-off page, append to the history and write the health verdict."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    view = run if isinstance(run, RunRecord) else RunRecord.from_json(run)

    history_path = report_dir / history.FILENAME
    appended = history.append(history_path, view, history.read(history_path))
    recorded = history.read(history_path)
    run_trend = trend.build(recorded.entries, view.environment_name, view.run_id)

    html_path = report_dir / HTML_FILENAME
    _write_atomically(html_path, page.render(view, run_trend, recorded.notes))

    health_path = report_dir / health.FILENAME
    doc = health.document(view)
    _write_atomically(health_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Published(
        html=html_path, history=history_path, health=health_path, history_appended=appended
    )
