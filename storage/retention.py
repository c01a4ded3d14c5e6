"""Retention: drop whole time partitions of ``reading`` and ``error_estimate`` past an age.

Only partitions that lie wholly before the cutoff go (migration 0002,
``meterwatch_drop_partitions_before``); a partition that still holds a newer row is kept, so
retention never deletes single rows. On TimescaleDB the same function calls ``drop_chunks``
(not tested here: TimescaleDB is not installed on this machine). The daily energy rollup
(``daily_energy_day``) is not touched, so the daily figures outlive the raw readings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from meterwatch.errors import MeterwatchError, StorageError

RETAINED_TABLES = ("reading", "error_estimate")


def retention_cutoff(older_than_days: int, now: datetime | None = None) -> datetime:
    """The instant before which partitions are dropped."""
    if older_than_days < 1:
        raise MeterwatchError(f"--older-than must be at least 1 day, got {older_than_days}")
    return (now or datetime.now(UTC)) - timedelta(days=older_than_days)


def apply_retention(
    conn: psycopg.Connection, older_than_days: int, now: datetime | None = None
) -> dict[str, list[str]]:
    """Drop the partitions older than ``older_than_days``; return their names per table."""
    cutoff = retention_cutoff(older_than_days, now)
    dropped: dict[str, list[str]] = {}
    try:
        with conn.transaction():
            for table in RETAINED_TABLES:
                rows = conn.execute(
                    "SELECT meterwatch_drop_partitions_before(%s, %s)", (table, cutoff)
                ).fetchall()
                dropped[table] = [name for (name,) in rows]
    except psycopg.Error as exc:
        raise StorageError(f"retention failed: {exc}") from exc
    return dropped
