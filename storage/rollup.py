"""The daily energy rollup on plain PostgreSQL: refresh only the days touched since last time.

A statement trigger on ``reading`` marks every UTC day that received rows
(``rollup_dirty_day``); :func:`refresh_daily_energy` recomputes those days of
``daily_energy_day`` from the readings and unmarks them, in one transaction (migration 0003).
Read the figures from the view ``daily_energy``. On TimescaleDB the rollup is a continuous
aggregate refreshed by its policy instead (not tested here).
"""

from __future__ import annotations

from datetime import date

import psycopg

from meterwatch.errors import StorageError


def refresh_daily_energy(conn: psycopg.Connection) -> list[date]:
    """Recompute the days that received readings since the last refresh; return them."""
    try:
        with conn.transaction():
            rows = conn.execute("SELECT meterwatch_refresh_daily_energy()").fetchall()
    except psycopg.Error as exc:
        raise StorageError(f"rollup refresh failed: {exc}") from exc
    return [day for (day,) in rows]
