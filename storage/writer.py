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
        self._partitions_known: dict[str, set[int]] = {}

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
            if frames:
                days = np.unique(np.concatenate([f.ts for f in frames]) // 86_400)
                self._ensure_partitions("reading", {int(d) for d in days})
            self._ensure_partitions(
                "error_estimate", {int(e["window"]["end"]) // 86_400 for e in estimates}
            )
            with self._conn.transaction():
                offered = sum(len(f) for f in frames)
                inserted, fallback = self._write_readings(frames) if offered else (0, False)
                events_inserted = self._write_events(events) if events else 0
                estimates_inserted = self._write_estimates(estimates) if estimates else 0
                self._store_offsets(offsets)
            return WriteResult(offered, inserted, events_inserted, estimates_inserted, fallback)
        except psycopg.Error as exc:
            raise StorageError(f"writing a batch failed: {exc}") from exc

    def _ensure_partitions(self, table: str, days: set[int]) -> None:
        """Create the missing partitions of ``table`` for these epoch days, ahead of the COPY
        (committed on their own: DDL inside the batch would lock the parent for its length)."""
        known = self._partitions_known.setdefault(table, set())
        missing = sorted(d for d in days if d // self._days not in known)
        if not missing:
            return
        with self._conn.transaction():
            self._conn.execute(
                "SELECT meterwatch_ensure_time_partitions("
                "%s, date '1970-01-01' + %s::int, date '1970-01-01' + %s::int, %s)",
                (table, missing[0], missing[-1], self._days),
            )
        known.update(d // self._days for d in missing)

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
        rows = []
        for e in events:
            data = e.get("data") or {}
            rows.append(
                (
                    e["id"], e["type"], e["source"], e["subject"], e["time"],
                    data.get("utility"), data.get("area"), json.dumps(data),
                )
            )  # fmt: skip
        return self._insert_new("event", EVENT_COLUMNS, rows)

    def _write_estimates(self, estimates: list[dict[str, Any]]) -> int:
        rows = [
            (
                e["meter"], datetime.fromtimestamp(e["window"]["end"], tz=UTC), e["utility"],
                e["area"], e["estimate_pct"], e["uncertainty_pct"], e["identifiable"],
                e["decision"], e["detector"],
            )
            for e in estimates
        ]  # fmt: skip
        return self._insert_new("error_estimate", ESTIMATE_COLUMNS, rows)

    def _insert_new(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
        """COPY ``rows`` into a staging table, then insert those not there yet (by key)."""
        cur = self._conn.cursor()
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {table}_staging "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cols = ", ".join(columns)
        with cur.copy(f"COPY {table}_staging ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table}_staging "
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
