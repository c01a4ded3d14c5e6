"""The hash-chained audit log: appended by triggers, append-only, tampering found by verify."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import psycopg
import pytest

from meterwatch.settings import CommonSettings
from storage.audit import verify_chain
from storage.writer import BatchWriter

pytestmark = pytest.mark.integration


def _event(run_id: str, i: int) -> dict[str, object]:
    return {
        "id": f"audit-{run_id}-{i}", "type": "meterwatch.alarm", "source": "test",
        "subject": f"{i:012d}", "time": f"1997-01-01T00:00:{i % 60:02d}Z",
        "data": {"utility": f"audit{run_id}", "area": "a", "i": i},
    }  # fmt: skip


@pytest.fixture
def my_rows(db: psycopg.Connection, writer_url: str, run_id: str) -> list[int]:
    """Three events written by the writer role; the seqs of their audit rows."""
    with psycopg.connect(writer_url) as conn:
        BatchWriter(conn, f"audit-{run_id}").write([], [_event(run_id, i) for i in range(3)], [])
    rows = db.execute(
        "SELECT seq FROM audit_log WHERE kind = 'event' AND ref LIKE %s ORDER BY seq",
        (f"audit-{run_id}-%",),
    ).fetchall()
    return [seq for (seq,) in rows]


@pytest.fixture
def tamper(services: CommonSettings) -> Iterator[psycopg.Connection]:
    """A superuser transaction with triggers off, rolled back afterwards (the log is shared)."""
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        yield conn
        conn.rollback()


def test_each_event_is_chained_once_and_the_chain_verifies(
    db: psycopg.Connection, my_rows: list[int]
) -> None:
    assert len(my_rows) == 3
    report = verify_chain(db)
    assert report.intact, report.first_break
    assert report.head_seq >= my_rows[-1]


def test_writer_cannot_change_the_log(writer_url: str, my_rows: list[int]) -> None:
    with psycopg.connect(writer_url, autocommit=True) as conn:
        for sql in (
            "UPDATE audit_log SET body = body WHERE seq = %s",
            "DELETE FROM audit_log WHERE seq = %s",
            "INSERT INTO audit_log SELECT * FROM audit_log WHERE seq = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql, (my_rows[0],))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE audit_log")


def test_even_the_owner_cannot_update_or_delete_with_triggers_on(
    db: psycopg.Connection, my_rows: list[int]
) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("UPDATE audit_log SET ref = 'x' WHERE seq = %s", (my_rows[0],))
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE seq = %s", (my_rows[0],))


def test_verify_names_an_altered_row(tamper: psycopg.Connection, my_rows: list[int]) -> None:
    tamper.execute(
        "UPDATE audit_log SET body = replace(body, '\"i\": 0', '\"i\": 9') WHERE seq = %s",
        (my_rows[0],),
    )
    broken = verify_chain(tamper).first_break
    assert broken is not None and (broken.seq, broken.fault) == (my_rows[0], "altered")


def test_verify_names_a_column_changed_outside_the_hashed_body(
    tamper: psycopg.Connection, my_rows: list[int]
) -> None:
    tamper.execute("UPDATE audit_log SET utility_id = 'other' WHERE seq = %s", (my_rows[1],))
    broken = verify_chain(tamper).first_break
    assert broken is not None and (broken.seq, broken.fault) == (my_rows[1], "altered")


def test_verify_names_a_removed_row(tamper: psycopg.Connection, my_rows: list[int]) -> None:
    tamper.execute("DELETE FROM audit_log WHERE seq = %s", (my_rows[1],))
    broken = verify_chain(tamper).first_break
    assert broken is not None and (broken.seq, broken.fault) == (my_rows[1] + 1, "removed")


def test_verify_names_a_row_inserted_with_a_wrong_hash(
    tamper: psycopg.Connection, my_rows: list[int]
) -> None:
    head = tamper.execute("SELECT max(seq) FROM audit_log").fetchone()[0]  # type: ignore[index]
    body = f'{{"seq": {head + 1}, "kind": "event", "ref": "forged", "utility_id": null}}'
    tamper.execute(
        "INSERT INTO audit_log VALUES (%s, 'event', 'forged', NULL, %s, %s, %s)",
        (head + 1, body, bytes(32), bytes(32)),
    )
    broken = verify_chain(tamper).first_break
    assert broken is not None and (broken.seq, broken.fault) == (head + 1, "altered")


def test_verify_names_a_row_rehashed_after_an_edit(
    tamper: psycopg.Connection, my_rows: list[int]
) -> None:
    """A forger who fixes the edited row's own hash still breaks the link to the next row."""
    seq = my_rows[0]
    prev, body = tamper.execute(
        "SELECT prev_hash, replace(body, '\"i\": 0', '\"i\": 7') FROM audit_log WHERE seq = %s",
        (seq,),
    ).fetchone()  # type: ignore[misc]
    digest = hashlib.sha256(bytes(prev) + body.encode()).digest()
    tamper.execute("UPDATE audit_log SET body = %s, hash = %s WHERE seq = %s", (body, digest, seq))
    broken = verify_chain(tamper).first_break
    assert broken is not None and (broken.seq, broken.fault) == (seq + 1, "out_of_order")


def test_concurrent_writers_keep_one_chain(
    db: psycopg.Connection, writer_url: str, run_id: str
) -> None:
    def write(worker: int) -> None:
        with psycopg.connect(writer_url) as conn:
            writer = BatchWriter(conn, f"audit-{run_id}-{worker}")
            for batch in range(5):
                writer.write([], [_event(f"{run_id}-{worker}-{batch}", i) for i in range(4)], [])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    count = db.execute(
        "SELECT count(*) FROM audit_log WHERE ref LIKE %s", (f"audit-{run_id}-%",)
    ).fetchone()
    assert count == (80,)
    report = verify_chain(db)
    assert report.intact, report.first_break
