"""Alembic revisions of the variant's schema: the same contract, built differently (settings)."""
