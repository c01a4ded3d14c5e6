"""The database connection of the operator commands (registry, lots, sample draw, ...)."""

from __future__ import annotations

import psycopg

from meterwatch.settings import CommonSettings
from storage.migrate import connect


def open_database() -> psycopg.Connection:
    """A connection to METERWATCH_DATABASE_URL in autocommit mode (each call commits itself)."""
    return connect(CommonSettings().database_url, autocommit=True)
