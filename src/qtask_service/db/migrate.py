"""`python -m qtask_service.db.migrate`: `alembic upgrade head` against the configured database.

The Alembic environment ships inside the package, so an installed service migrates without an
alembic.ini or a source checkout. Two histories share it: the reference's (`versions/`) and the
variant's (`variant/`), chosen by `QTASK_SERVICE_MIGRATIONS`.
"""

import logging
import sys
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config

from qtask_service.settings import Settings

Migrations = Literal["reference", "variant"]

HEAD_REVISIONS: dict[Migrations, str] = {"reference": "0002", "variant": "e94c8d13b5f0"}
"""The head of each migration history, as `alembic_version` holds it after an upgrade."""

_SCRIPT_LOCATION = Path(__file__).with_name("migrations")
_VERSION_LOCATIONS: dict[Migrations, Path] = {
    "reference": _SCRIPT_LOCATION / "versions",
    "variant": _SCRIPT_LOCATION / "variant",
}


def alembic_config(database_url: str, migrations: Migrations = "reference") -> Config:
    """An Alembic configuration for one packaged history and the given libpq-style URL."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    config.set_main_option("version_locations", str(_VERSION_LOCATIONS[migrations]))
    config.attributes["sqlalchemy_url"] = _asyncpg_dialect_url(database_url)
    return config


def upgrade_head(database_url: str, migrations: Migrations = "reference") -> None:
    """Bring the database to the head revision of the history; idempotent."""
    command.upgrade(alembic_config(database_url, migrations), "head")


def _asyncpg_dialect_url(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
        raise ValueError("the database URL must start with postgresql://")
    return f"postgresql+asyncpg://{rest}"


def main() -> int:
    """Entry point: migrate, log the outcome without the URL (it carries the password)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("qtask_service.migrate")
    settings = Settings()
    try:
        upgrade_head(settings.database_url, settings.migrations)
    except Exception as exc:
        log.error("migration failed: %s: %s", type(exc).__name__, exc)
        return 1
    log.info(
        "database at revision %s (%s schema)",
        HEAD_REVISIONS[settings.migrations],
        settings.migrations,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
