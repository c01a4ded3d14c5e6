"""The readings writer against raw binary COPY into the same partitioned table, side by side.

- raw: the binary COPY stream of a batch, encoded beforehand, COPYed straight into
  ``reading`` in one transaction per batch (the floor of what any writer can do).
- writer: ``storage.writer.BatchWriter.write`` on the same batches, with their Kafka offsets:
  it encodes the frames, ensures the partitions, COPYs optimistically and stores the offsets
  in the same transaction.

Both load the same number of rows into freshly created day partitions of ``reading`` (in
1992, far from live data and from the tests' dates, dropped afterwards), alternating raw and
writer ``--repeats`` times; the best run of each is compared. Needs PostgreSQL with the
schema: ``make services-up``.

    .venv/bin/python bench/bench_storage.py [--rows 1000000] [--batch-rows 100000] [--days 12]
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from meterwatch.domain import ReadingFrame
from meterwatch.settings import CommonSettings
from storage.copy_binary import READING_COLUMNS, encode_readings
from storage.migrate import connect, migrate
from storage.writer import BatchWriter, TopicOffset

FIRST_DAY = date(1992, 1, 1)
FRAME_ROWS = 1000  # one area's frame, as the bridge produces them


def make_batches(rows: int, batch_rows: int, days: int) -> list[list[ReadingFrame]]:
    """``rows`` hourly readings of distinct meters spread over ``days`` days, in batches."""
    base = (uuid.uuid4().int % 900_000 + 100_000) * 1_000_000
    start = int(datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC).timestamp())
    per_meter = days * 24
    meters = max(1, rows // per_meter)
    meter_ids = np.array([f"{base + i:012d}" for i in range(meters)], dtype="<U12")
    hours = np.arange(per_meter, dtype=np.int64)
    frames: list[ReadingFrame] = []
    for first in range(0, meters, FRAME_ROWS // per_meter or 1):
        chunk = meter_ids[first : first + max(1, FRAME_ROWS // per_meter)]
        n = len(chunk) * per_meter
        frames.append(
            ReadingFrame(
                utility="bench", area=f"area-{first % 20}", meter=np.repeat(chunk, per_meter),
                ts=start + np.tile(hours, len(chunk)) * 3600,
                import_wh=np.tile(hours, len(chunk)) * 100, export_wh=np.zeros(n, np.int64),
                voltage_v=np.full(n, 230.0), current_a=np.full(n, 5.0),
            )
        )  # fmt: skip
    batches, current, size = [], [], 0
    for frame in frames:
        current.append(frame)
        size += len(frame)
        if size >= batch_rows:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def fresh_partitions(conn: psycopg.Connection, days: int) -> None:
    drop_partitions(conn, days)
    conn.execute(
        "SELECT meterwatch_ensure_reading_partitions(%s, %s, 1)",
        (FIRST_DAY, FIRST_DAY + timedelta(days=days - 1)),
    )
    conn.commit()


def drop_partitions(conn: psycopg.Connection, days: int) -> None:
    for d in range(days):
        conn.execute(f"DROP TABLE IF EXISTS reading_p{FIRST_DAY + timedelta(days=d):%Y%m%d}")
    conn.execute("DELETE FROM consumer_offset WHERE consumer_group LIKE 'bench-storage-%'")
    conn.commit()


def run_raw(conn: psycopg.Connection, batches: list[list[ReadingFrame]]) -> float:
    streams = [encode_readings(b) for b in batches]  # encoded beforehand: not timed
    cols = ", ".join(READING_COLUMNS)
    started = time.perf_counter()
    for data in streams:
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY reading ({cols}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.write(data)
    return time.perf_counter() - started


def run_writer(conn: psycopg.Connection, batches: list[list[ReadingFrame]]) -> float:
    writer = BatchWriter(conn, f"bench-storage-{uuid.uuid4().hex[:8]}")
    started = time.perf_counter()
    for i, batch in enumerate(batches):
        offsets = [TopicOffset("meterwatch.readings", p, (i + 1) * 100) for p in range(4)]
        result = writer.write(batch, [], offsets)
        assert not result.fallback_used
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=12, help="partitions the rows spread over")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    url = CommonSettings().database_url
    with connect(url) as conn:
        migrate(conn)
        conn.commit()
        batches_raw = make_batches(args.rows, args.batch_rows, args.days)
        batches_writer = make_batches(args.rows, args.batch_rows, args.days)
        rows = sum(len(f) for b in batches_raw for f in b)
        best = {"raw": float("inf"), "writer": float("inf")}
        try:
            for _ in range(args.repeats):
                for name, run, batches in (
                    ("raw", run_raw, batches_raw),
                    ("writer", run_writer, batches_writer),
                ):
                    fresh_partitions(conn, args.days)
                    seconds = run(conn, batches)
                    best[name] = min(best[name], seconds)
                    print(
                        f"{name:6s} {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s"
                    )
        finally:
            drop_partitions(conn, args.days)
    raw_rate, writer_rate = rows / best["raw"], rows / best["writer"]
    print(f"best raw binary COPY: {raw_rate:,.0f} rows/s")
    print(f"best BatchWriter.write: {writer_rate:,.0f} rows/s")
    print(f"writer / raw = {writer_rate / raw_rate:.2f} (target >= 0.60)")


if __name__ == "__main__":
    main()
