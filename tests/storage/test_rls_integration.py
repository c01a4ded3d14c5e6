"""Row-level security over real TCP connections: a utility role never reads another's rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from storage.registry import import_registry
from storage.rollup import refresh_daily_energy
from storage.supervision_store import decide_lot, draw_sample, import_inspections
from storage.writer import BatchWriter

pytestmark = pytest.mark.integration

METER_TABLES = (
    "utility", "area", "lot", "meter", "reading", "error_estimate", "event", "inspection",
    "sampling_plan", "sample", "lot_verdict", "daily_energy_day", "daily_energy",
)  # fmt: skip
DAY = datetime(1996, 5, 14)


@pytest.fixture
def two_utilities(
    db: psycopg.Connection, tmp_path: Path, run_id: str, meter_base: int, writer_url: str,
    write_registry: Callable[..., Path], registry_row: Callable[..., dict[str, str]],
    make_frame: Callable[..., object],
) -> tuple[str, str]:  # fmt: skip
    """Utilities A and B with meters, readings, events, estimates, plans, inspections, verdicts."""
    a, b = f"rlsa{run_id}", f"rlsb{run_id}"
    meters = {
        u: [f"{meter_base + i + k * 100:012d}" for i in range(5)] for k, u in enumerate((a, b))
    }
    rows = [registry_row(int(m), u, "area-1") for u in (a, b) for m in meters[u]]
    import_registry(db, write_registry(tmp_path / "registry.csv", rows))
    with psycopg.connect(writer_url) as conn:  # the services' role writes readings and events
        writer = BatchWriter(conn, f"rls-{run_id}")
        writer.write(
            [make_frame(u, "area-1", meters[u], DAY, [1, 2, 3]) for u in (a, b)],
            [{"id": f"ev-{u}", "type": "meterwatch.alarm", "source": "test",
              "subject": meters[u][0], "time": "1996-05-14T04:00:00Z",
              "data": {"utility": u, "area": "area-1"}} for u in (a, b)],
            [],
        )  # fmt: skip
    db.execute(
        "SELECT meterwatch_ensure_time_partitions('error_estimate', %s, %s, 1)",
        (DAY.date(), DAY.date()),
    )
    for u in (a, b):
        db.execute(
            "INSERT INTO error_estimate VALUES (%s, %s, %s, 'area-1', 0.5, 0.2, true, 'ok', 'gls')",
            (meters[u][0], DAY, u),
        )
        lot_id = db.execute("SELECT lot_id FROM lot WHERE utility_id = %s", (u,)).fetchone()[0]  # type: ignore[index]
        drawn = draw_sample(db, lot_id, "attributes", "6.5", "S-1", "normal", seed=3)
        results = tmp_path / f"results-{u}.csv"
        results.write_text(
            "meter_id,inspected_on,measured_error_pct,expanded_uncertainty_pct,inspector,equipment\n"
            + "".join(f"{m},1996-06-01,0.3,0.1,T,R\n" for m in drawn.draw.selected_ids)
        )
        import_inspections(db, results)
        decide_lot(db, lot_id)
    refresh_daily_energy(db)
    return a, b


def _utilities_seen(conn: psycopg.Connection, table: str) -> set[str]:
    return {u for (u,) in conn.execute(f"SELECT DISTINCT utility_id FROM {table}").fetchall()}


def test_utility_role_sees_only_its_utility_in_every_table(
    two_utilities: tuple[str, str], login_role: Callable[..., str], run_id: str
) -> None:
    a, b = two_utilities
    with psycopg.connect(login_role(f"mw_ua_{run_id}", utility=a), autocommit=True) as conn:
        for table in METER_TABLES:
            assert _utilities_seen(conn, table) == {a}, table
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE utility_id = %s", (b,))
            assert count.fetchone() == (0,), table
        # The session setting narrows to one of the role's own utilities, never widens.
        conn.execute("SELECT set_config('meterwatch.utility', %s, false)", (b,))
        assert all(_utilities_seen(conn, t) == set() for t in METER_TABLES)
        conn.execute("SELECT set_config('meterwatch.utility', %s, false)", (a,))
        assert _utilities_seen(conn, "reading") == {a}


def test_regulator_reads_every_utility(
    two_utilities: tuple[str, str], login_role: Callable[..., str], run_id: str
) -> None:
    with psycopg.connect(
        login_role(f"mw_reg_{run_id}", group="meterwatch_regulator"), autocommit=True
    ) as conn:
        for table in METER_TABLES:
            assert set(two_utilities) <= _utilities_seen(conn, table), table
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] > 0  # type: ignore[index]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM reading")


def test_utility_role_cannot_cross_the_boundary_by_any_sql(
    two_utilities: tuple[str, str], login_role: Callable[..., str], run_id: str,
    db: psycopg.Connection,
) -> None:  # fmt: skip
    a, b = two_utilities
    role = f"mw_ua_{run_id}"
    notices: list[str] = []
    with psycopg.connect(login_role(role, utility=a), autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        # its own views and functions run with its own rights
        conn.execute("CREATE TEMP VIEW every_reading AS SELECT * FROM reading")
        assert _utilities_seen(conn, "every_reading") == {a}
        conn.execute(
            "CREATE FUNCTION pg_temp.leak(u text) RETURNS boolean LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE NOTICE 'saw %', u; RETURN true; END $$"
        )
        conn.execute("SELECT count(*) FROM reading WHERE pg_temp.leak(utility_id)").fetchone()
        assert notices and all(n == f"saw {a}" for n in notices)
        with conn.cursor().copy("COPY (SELECT utility_id FROM event) TO STDOUT") as copy:
            copied = b"".join(bytes(chunk) for chunk in copy)
        assert copied and b.encode() not in copied
        # planner statistics would show other utilities' values: hidden under row security
        db.execute("ANALYZE meter")
        stats = "SELECT count(*) FROM pg_stats WHERE tablename = 'meter'"
        assert db.execute(stats).fetchone()[0] > 0  # type: ignore[index]
        assert conn.execute(stats).fetchone() == (0,)
        forbidden = [
            "SELECT * FROM audit_log",
            f"SELECT * FROM reading_p{DAY:%Y%m%d}",  # a partition, around the parent's policy
            f"INSERT INTO utility_role VALUES ('{role}', '{b}')",
            f"UPDATE utility_role SET utility_id = '{b}'",
            "SET ROLE meterwatch_writer",
            "SET ROLE meterwatch_regulator",
            "SELECT meterwatch_refresh_daily_energy()",
            "SELECT meterwatch_ensure_time_partitions('reading', current_date, current_date, 1)",
            f"SELECT meterwatch_create_utility_role('{role}', '{b}', 'x')",
            "SELECT meterwatch_audit_append('event', 'x', NULL, '{}'::jsonb)",
            "SELECT meterwatch_drop_partitions_before('reading', now())",
            "INSERT INTO reading SELECT * FROM reading LIMIT 1",
            "CREATE VIEW public.all_readings AS SELECT * FROM reading",
        ]
        for sql in forbidden:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
