"""End-to-end throughput: readings/s from MQTT publish to rows committed in PostgreSQL.

Printed next to two baselines measured in the same run on the same machine:

- raw binary COPY of the same readings into the same partitioned ``reading`` table;
- raw Kafka producer speed, Kafka's own ``org.apache.kafka.tools.ProducerPerformance`` from
  the broker's jars (deploy/local/kafka/perf.sh), converted to readings/s at the frame
  codec's 52 bytes per reading.

It also times the pure stages in-process (JSON decode, frame codec, COPY encoding) to show
where the time goes. Needs the local services: ``make services-up``.

    .venv/bin/python bench/bench_pipeline.py [--readings 1000000] [--per-message 500]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg

from ingest.batcher import AreaBatcher
from meterwatch.frame_codec import decode_frame, encode_frame
from meterwatch.payloads import PayloadLimits
from meterwatch.processes import LocalPipeline
from meterwatch.settings import CommonSettings, StoreSettings
from meterwatch.topics import ensure_topics
from simulators.demo_fleet import DemoFleet
from simulators.publisher import MqttPublisher
from storage.copy_binary import READING_COLUMNS, encode_readings
from storage.migrate import connect, migrate

REPO = Path(__file__).resolve().parent.parent
BYTES_PER_READING = 52


def fleet_for(readings: int, per_message: int, tag: str) -> DemoFleet:
    devices = 40
    intervals = max(1, readings // (devices * per_message))
    base = (uuid.uuid4().int % 900_000 + 100_000) * 1_000_000
    return DemoFleet(
        utilities=1, areas_per_utility=20, devices_per_area=2, meters_per_device=per_message,
        intervals=intervals, meter_base=base, utility_prefix=tag,
    )  # fmt: skip


def count_rows(db: psycopg.Connection, tag: str) -> int:
    row = db.execute("SELECT count(*) FROM reading WHERE utility_id LIKE %s", (f"{tag}-%",))
    return int(row.fetchone()[0])  # type: ignore[index]


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far, per process name, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        match = re.search(r"meterwatch\.cli (ingest|stream|store)", cmdline)
        name = f"meterwatch {match.group(1)}" if match else comm
        if comm == "java" and "kafka.Kafka" in cmdline:
            name = "kafka broker (java)"
        elif not match and comm not in ("postgres", "mosquitto"):
            continue
        totals[name] = totals.get(name, 0.0) + used
    return totals


def end_to_end(settings: CommonSettings, fleet: DemoFleet, tag: str) -> tuple[float, float]:
    """Return (publish seconds, publish-to-last-row seconds)."""
    payloads = list(fleet.payloads())
    publisher = MqttPublisher(settings.mqtt_host, settings.mqtt_port, f"bench-{tag}")
    inserted = "meterwatch_store_readings_inserted_total"
    before = scrape(StoreSettings().metrics_port, inserted)
    started = time.perf_counter()
    sender = threading.Thread(target=publisher.publish_all, args=(payloads,))
    sender.start()
    sender.join()
    published = time.perf_counter() - started
    # The writer's own counter: cheap to poll, unlike a count(*) over the growing table.
    while scrape(StoreSettings().metrics_port, inserted) - before < fleet.readings:
        time.sleep(0.02)
    done = time.perf_counter() - started
    publisher.close()
    with psycopg.connect(settings.database_url, autocommit=True) as db:
        stored = count_rows(db, tag)
    if stored != fleet.readings:
        raise SystemExit(f"stored {stored} rows of {fleet.readings}: the run is not valid")
    return published, done


def scrape(port: int, metric: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(metric + " "):
                return float(line.split()[1])
    return 0.0


def stage_costs(fleet: DemoFleet) -> dict[str, float]:
    """Microseconds per reading of the pure stages, single core, in-process."""
    payloads = list(fleet.payloads())[:400]
    n = 0
    batcher = AreaBatcher(PayloadLimits())
    t0 = time.perf_counter()
    for mid, (topic, payload) in enumerate(payloads):
        batcher.add(topic, payload, int(time.time()), mid, 1)
    frames = batcher.drain().frames
    t1 = time.perf_counter()
    n = sum(len(f) for f in frames)
    blobs = [encode_frame(f) for f in frames]
    t2 = time.perf_counter()
    decoded = [decode_frame(b) for b in blobs]
    t3 = time.perf_counter()
    encode_readings(decoded)
    t4 = time.perf_counter()
    us = 1e6 / n
    return {
        "JSON decode + validate + batch": (t1 - t0) * us,
        "frame encode": (t2 - t1) * us,
        "frame decode": (t3 - t2) * us,
        "binary COPY encode": (t4 - t3) * us,
    }


def raw_copy(settings: CommonSettings, fleet: DemoFleet) -> float:
    """Rows/s of one binary COPY straight into ``reading`` (partitions created beforehand)."""
    batcher = AreaBatcher(PayloadLimits())
    for mid, (topic, payload) in enumerate(fleet.payloads()):
        batcher.add(topic, payload, int(time.time()), mid, 1)
    frames = batcher.drain().frames
    data = encode_readings(frames)
    days = sorted({int(d) for f in frames for d in set(f.ts // 86_400)})
    cols = ", ".join(READING_COLUMNS)
    with connect(settings.database_url) as conn:
        conn.execute(
            "SELECT meterwatch_ensure_reading_partitions("
            "date '1970-01-01' + %s::int, date '1970-01-01' + %s::int, 1)",
            (days[0], days[-1]),
        )
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY reading ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        conn.commit()
        elapsed = time.perf_counter() - started
    return fleet.readings / elapsed


def kafka_producer_perf(record_size: int, records: int) -> float:
    """Bytes/s of Kafka's own ProducerPerformance (acks=all) against the local broker."""
    topic = "meterwatch.bench.producer-perf"
    subprocess.run(
        [str(REPO / "deploy/local/kafka/kafka-run.sh"), "org.apache.kafka.tools.TopicCommand",
         "--bootstrap-server", CommonSettings().kafka_bootstrap, "--create", "--if-not-exists",
         "--topic", topic, "--partitions", "4"],
        check=True, capture_output=True,
    )  # fmt: skip
    out = subprocess.run(
        [str(REPO / "deploy/local/kafka/perf.sh"), "--topic", topic, "--num-records",
         str(records), "--record-size", str(record_size), "--producer-props",
         f"bootstrap.servers={CommonSettings().kafka_bootstrap}", "acks=all",
         "compression.type=lz4", "linger.ms=5", "batch.size=1048576"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    mb_per_s = float(re.search(r"\(([\d.]+) MB/sec\)", last).group(1))  # type: ignore[union-attr]
    return mb_per_s * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--per-message", type=int, default=500, help="readings per MQTT message")
    args = parser.parse_args()
    settings = CommonSettings()
    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions)
    with connect(settings.database_url) as conn:
        migrate(conn)

    tag = f"bench{uuid.uuid4().hex[:6]}"
    fleet = fleet_for(args.readings, args.per_message, tag)
    messages = fleet.devices * fleet.intervals
    print(f"fleet: {fleet.devices} devices, {fleet.meters_per_device} readings/message, "
          f"{fleet.readings:,} readings in {messages:,} MQTT messages")  # fmt: skip

    pipeline = LocalPipeline(settings.state_dir / "bench" / tag).start()
    try:
        cpu_before = cpu_seconds()
        published, done = end_to_end(settings, fleet, tag)
        cpu_used = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds().items()}
    finally:
        pipeline.stop()
    e2e = fleet.readings / done
    copy_rate = raw_copy(settings, fleet_for(args.readings, args.per_message, tag + "c"))
    frame_bytes = BYTES_PER_READING * args.per_message
    kafka_bps = kafka_producer_perf(frame_bytes, max(2000, args.readings // args.per_message))
    kafka_readings = kafka_bps / BYTES_PER_READING

    print(
        f"\nend to end (MQTT publish -> rows committed): {e2e:>12,.0f} readings/s "
        f"({done:.1f} s; publishing alone took {published:.1f} s)"
    )
    print(
        f"raw binary COPY into reading:                {copy_rate:>12,.0f} rows/s "
        f"-> end to end = {e2e / copy_rate:.2f}x raw COPY"
    )
    print(
        f"raw Kafka ProducerPerformance ({frame_bytes} B records, acks=all, lz4): "
        f"{kafka_bps / 1e6:.1f} MB/s = {kafka_readings:,.0f} readings/s "
        f"-> end to end = {e2e / kafka_readings:.2f}x raw producer"
    )
    print(f"goal 200,000 readings/s -> reached {e2e / 200_000:.0%}")
    print(f"\nCPU seconds per process during the end-to-end run ({done:.1f} s wall, 2 cores):")
    for name, used in sorted(cpu_used.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<20} {used:6.1f} s  = {used / fleet.readings * 1e6:5.1f} us/reading")
    print("\nper-reading cost of the pure stages (one core, in-process):")
    for stage, us in stage_costs(fleet).items():
        print(f"  {stage:<32} {us:6.2f} us/reading = {1e6 / us:>12,.0f} readings/s")


if __name__ == "__main__":
    main()
