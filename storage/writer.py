"""Idempotent, transactional writes of consumed batches into PostgreSQL.

One transaction per batch holds the readings, the events and the Kafka offsets that were
consumed to produce them (DESIGN.md, "Storage"): after a crash the writer resumes from the
offsets it committed, so it never replays its own input. Duplicates that arrive from upstream
(an MQTT redelivery after a bridge crash) are still possible, so readings go in by an
optimistic binary COPY straight into ``reading``; only when that hits a unique violation is
the batch rolled back to a savepoint and re-sent through a staging table with
``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import errors as pg_errors

from meterwatch.domain import ReadingFrame
from meterwatch.errors import StorageError
from storage.copy_binary import READING_COLUMNS, encode_readings

_COLS = ", ".join(READING_COLUMNS)
EVENT_COLUMNS = ("id", "type", "source", "subject", "time", "utility_id", "area_id", "data")
ESTIMATE_COLUMNS = (
    "meter_id", "ts", "utility_id", "area_id", "error_pct", "uncertainty_pct", "identifiable",
    "decision", "detector",
)  # fmt: skip


@dataclass(frozen=True)
class TopicOffset:
    topic: str
    partition: int
    next_offset: int


@dataclass(frozen=True)
class WriteResult:
    readings_offered: int
    readings_inserted: int
    events_inserted: int
    estimates_inserted: int
    fallback_used: bool


class BatchWriter:
    def __init__(self, conn: psycopg.Connection, consumer_group: str, partition_days: int = 1):
        self._conn = conn
        self._group = consumer_group
        self._days = partition_days
        self._partitions_known: set[int] = set()
        self._estimate_partitions: set[int] = set()

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        rows = self._conn.execute(
            "SELECT topic, partition, next_offset FROM consumer_offset WHERE consumer_group = %s",
            (self._group,),
        ).fetchall()
        self._conn.commit()
        return {(t, p): o for t, p, o in rows}

    def write(
        self,
        frames: list[ReadingFrame],
        events: list[dict[str, Any]],
        offsets: list[TopicOffset],
        estimates: list[dict[str, Any]] | None = None,
    ) -> WriteResult:
        """Write one consumed batch and its offsets atomically.

        ``estimates`` are the stream's per-meter evidence records (``meterwatch.estimates``).
        """
        estimates = estimates or []
        try:
            self._ensure_partitions(frames)
            self._ensure_estimate_partitions(estimates)
            with self._conn.transaction():
                offered = sum(len(f) for f in frames)
                inserted, fallback = self._write_readings(frames) if offered else (0, False)
                events_inserted = self._write_events(events) if events else 0
                estimates_inserted = self._write_estimates(estimates) if estimates else 0
                self._store_offsets(offsets)
            return WriteResult(offered, inserted, events_inserted, estimates_inserted, fallback)
        except psycopg.Error as exc:
            raise StorageError(f"writing a batch failed: {exc}") from exc

    def _ensure_partitions(self, frames: list[ReadingFrame]) -> None:
        if not frames:
            return
        days = np.unique(np.concatenate([f.ts for f in frames]) // 86_400)
        missing = [int(d) for d in days if int(d) // self._days not in self._partitions_known]
        if not missing:
            return
        with self._conn.transaction():
            self._conn.execute(
                "SELECT meterwatch_ensure_reading_partitions("
                "date '1970-01-01' + %s::int, date '1970-01-01' + %s::int, %s)",
                (min(missing), max(missing), self._days),
            )
        self._partitions_known.update(d // self._days for d in missing)

    def _write_readings(self, frames: list[ReadingFrame]) -> tuple[int, bool]:
        data = encode_readings(frames)
        cur = self._conn.cursor()
        try:
            with (
                self._conn.transaction(),  # a savepoint inside the batch's transaction
                cur.copy(f"COPY reading ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.write(data)
            return sum(len(f) for f in frames), False
        except pg_errors.UniqueViolation:
            pass
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS reading_staging "
            "(LIKE reading INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY reading_staging ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        cur.execute(
            f"INSERT INTO reading ({_COLS}) SELECT {_COLS} FROM reading_staging "
            "ON CONFLICT DO NOTHING"
        )
        return cur.rowcount, True

    def _write_events(self, events: list[dict[str, Any]]) -> int:
        cur = self._conn.cursor()
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS event_staging "
            "(LIKE event INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cols = ", ".join(EVENT_COLUMNS)
        with cur.copy(f"COPY event_staging ({cols}) FROM STDIN") as copy:
            for e in events:
                data = e.get("data") or {}
                copy.write_row(
                    (
                        e["id"], e["type"], e["source"], e["subject"], e["time"],
                        data.get("utility"), data.get("area"), json.dumps(data),
                    )
                )  # fmt: skip
        cur.execute(
            f"INSERT INTO event ({cols}) SELECT {cols} FROM event_staging ON CONFLICT DO NOTHING"
        )
        return cur.rowcount

    def _ensure_estimate_partitions(self, estimates: list[dict[str, Any]]) -> None:
        days = {int(e["window"]["end"]) // 86_400 for e in estimates}
        missing = sorted(d for d in days if d // self._days not in self._estimate_partitions)
        if not missing:
            return
        with self._conn.transaction():
            self._conn.execute(
                "SELECT meterwatch_ensure_time_partitions('error_estimate', "
                "date '1970-01-01' + %s::int, date '1970-01-01' + %s::int, %s)",
                (missing[0], missing[-1], self._days),
            )
        self._estimate_partitions.update(d // self._days for d in missing)

    def _write_estimates(self, estimates: list[dict[str, Any]]) -> int:
        cur = self._conn.cursor()
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS estimate_staging "
            "(LIKE error_estimate INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cols = ", ".join(ESTIMATE_COLUMNS)
        with cur.copy(f"COPY estimate_staging ({cols}) FROM STDIN") as copy:
            for e in estimates:
                copy.write_row(
                    (
                        e["meter"], datetime.fromtimestamp(e["window"]["end"], tz=UTC),
                        e["utility"], e["area"], e["estimate_pct"], e["uncertainty_pct"],
                        e["identifiable"], e["decision"], e["detector"],
                    )
                )  # fmt: skip
        cur.execute(
            f"INSERT INTO error_estimate ({cols}) SELECT {cols} FROM estimate_staging "
            "ON CONFLICT DO NOTHING"
        )
        return cur.rowcount

    def _store_offsets(self, offsets: list[TopicOffset]) -> None:
        if not offsets:
            return
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO consumer_offset (consumer_group, topic, partition, next_offset) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (consumer_group, topic, partition) "
                "DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                [(self._group, o.topic, o.partition, o.next_offset) for o in offsets],
            )
