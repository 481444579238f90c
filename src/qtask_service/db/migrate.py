"""`python -m qtask_service.db.migrate`: `alembic upgrade head` against the configured database.

The Alembic environment ships inside the package, so an installed service migrates without an
alembic.ini or a source checkout.
"""

import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from qtask_service.settings import Settings

HEAD_REVISION = "0002"
_SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for the packaged revisions and the given libpq-style URL."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    config.attributes["sqlalchemy_url"] = _asyncpg_dialect_url(database_url)
    return config


def upgrade_head(database_url: str) -> None:
    """Bring the database to the head revision; idempotent."""
    command.upgrade(alembic_config(database_url), "head")


def _asyncpg_dialect_url(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
        raise ValueError("the database URL must start with postgresql://")
    return f"postgresql+asyncpg://{rest}"


def main() -> int:
    """Entry point: migrate, log the outcome without the URL (it carries the password)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("qtask_service.migrate")
    try:
        upgrade_head(Settings().database_url)
    except Exception as exc:
        log.error("migration failed: %s: %s", type(exc).__name__, exc)
        return 1
    log.info("database at revision %s", HEAD_REVISION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
