"""Daily energy rollup (incremental refresh) and retention by whole partitions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from storage.retention import apply_retention
from storage.rollup import refresh_daily_energy
from storage.writer import BatchWriter

pytestmark = pytest.mark.integration


def test_rollup_refreshes_only_the_days_touched_since_the_last_refresh(
    db: psycopg.Connection, writer_url: str, run_id: str, meter_base: int,
    make_frame: Callable[..., object],
) -> None:  # fmt: skip
    utility = f"roll{run_id}"
    meters = [f"{meter_base + i:012d}" for i in range(3)]
    days = [datetime(1995, 3, 1) + timedelta(days=d) for d in range(3)]
    with psycopg.connect(writer_url) as conn:
        writer = BatchWriter(conn, f"rollup-{run_id}")
        # cumulative registers: 100 Wh per hour, readings at hours 0, 6, 12 and 18 every day
        for d, day in enumerate(days):
            writer.write(
                [make_frame(utility, "a", meters, day, [0, 6, 12, 18], start_wh=d * 2400)], [], []
            )
        refreshed = refresh_daily_energy(db)
        assert {d.date() for d in days} <= set(refreshed)

        def energy() -> dict[date, int]:
            rows = db.execute(
                "SELECT day, import_wh FROM daily_energy WHERE meter_id = %s ORDER BY day",
                (meters[0],),
            ).fetchall()
            return dict(rows)

        # day 1: 0 -> 18 h = 1800 Wh; later days: from the previous day's 18 h reading
        assert energy() == {days[0].date(): 1800, days[1].date(): 2400, days[2].date(): 2400}
        # one late reading on day 2 only: only day 2 is refreshed
        late = [make_frame(utility, "a", meters, days[1], [23], start_wh=2400)]
        assert writer.write(late, [], []).readings_inserted == 3
        # the same readings again (an upstream redelivery): the writer role's fallback path
        again = writer.write(late, [], [])
        assert (again.fallback_used, again.readings_inserted) == (True, 0)
    refreshed = refresh_daily_energy(db)
    assert days[1].date() in refreshed
    assert days[0].date() not in refreshed and days[2].date() not in refreshed
    assert energy() == {days[0].date(): 1800, days[1].date(): 2900, days[2].date(): 1900}
    readings = db.execute(
        "SELECT readings FROM daily_energy_day WHERE meter_id = %s ORDER BY day_start",
        (meters[0],),
    ).fetchall()
    assert readings == [(4,), (5,), (4,)]


def test_retention_drops_exactly_the_partitions_wholly_older_than_the_cutoff(
    db: psycopg.Connection,
) -> None:
    first = date(1990, 1, 1)
    for table in ("reading", "error_estimate"):
        db.execute(
            "SELECT meterwatch_ensure_time_partitions(%s, %s, %s, 1)",
            (table, first, first + timedelta(days=9)),
        )
    db.execute(
        "INSERT INTO error_estimate VALUES ('000000000001', '1990-01-06 12:00+00', 'u', 'a', "
        "0.1, 0.1, true, 'ok', 'test') ON CONFLICT DO NOTHING"
    )
    try:
        # cutoff 1990-01-06 12:00 UTC: partitions of Jan 1-5 end by then, Jan 6 does not
        dropped = apply_retention(db, 30, now=datetime(1990, 2, 5, 12, tzinfo=UTC))
        expected = [f"p199001{d:02d}" for d in range(1, 6)]
        assert dropped == {t: [f"{t}_{p}" for p in expected] for t in dropped}
        assert set(dropped) == {"reading", "error_estimate"}
        for table in dropped:
            for d in range(1, 11):
                exists = db.execute("SELECT to_regclass(%s)", (f"{table}_p199001{d:02d}",))
                assert (exists.fetchone()[0] is not None) == (d >= 6), (table, d)  # type: ignore[index]
        kept = db.execute("SELECT count(*) FROM error_estimate WHERE ts < '1990-01-07'").fetchone()
        assert kept == (1,)
        assert apply_retention(db, 30, now=datetime(1990, 2, 5, 12, tzinfo=UTC)) == {
            "reading": [], "error_estimate": []
        }  # fmt: skip
    finally:
        for table in ("reading", "error_estimate"):
            for d in range(1, 11):
                db.execute(f"DROP TABLE IF EXISTS {table}_p199001{d:02d}")
