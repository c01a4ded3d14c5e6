"""The bridge against the real Mosquitto, Kafka and PostgreSQL (make services-up)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from meterwatch.dlq import DeadLetterReader, DeadLetterRecord
from meterwatch.processes import LocalPipeline
from meterwatch.settings import CommonSettings
from simulators.demo_fleet import DemoFleet, bad_payloads
from simulators.publisher import MqttPublisher

pytestmark = pytest.mark.integration


def _publish(settings: CommonSettings, messages: object, client: str) -> int:
    publisher = MqttPublisher(settings.mqtt_host, settings.mqtt_port, client)
    try:
        return publisher.publish_all(messages)  # type: ignore[arg-type]
    finally:
        publisher.close()


def test_100k_readings_from_50_devices_become_100k_rows(
    pipeline: LocalPipeline, db: psycopg.Connection, services: CommonSettings, run_id: str,
    meter_base: int, wait_until: Callable[..., object], stored_readings: Callable[[str], int],
) -> None:  # fmt: skip
    fleet = DemoFleet(
        utilities=1, areas_per_utility=25, devices_per_area=2, meters_per_device=50,
        intervals=40, meter_base=meter_base, utility_prefix=f"vol{run_id}",
    )  # fmt: skip
    assert fleet.devices == 50 and fleet.readings == 100_000
    assert _publish(services, fleet.payloads(), f"pub-{run_id}") == 2_000
    assert wait_until(lambda: stored_readings(f"vol{run_id}-%"), 100_000) == 100_000
    distinct = db.execute(
        "SELECT count(DISTINCT (meter_id, ts)) FROM reading WHERE utility_id LIKE %s",
        (f"vol{run_id}-%",),
    ).fetchone()
    assert distinct == (100_000,)


def test_every_bad_input_reaches_the_dlq_and_no_table(
    pipeline: LocalPipeline, db: psycopg.Connection, services: CommonSettings, run_id: str,
    wait_until: Callable[..., object], stored_readings: Callable[[str], int],
) -> None:  # fmt: skip
    utility = f"bad{run_id}"
    cases = bad_payloads(utility)
    reader = DeadLetterReader(services.kafka_bootstrap)
    assert _publish(services, ((t, p) for t, p, _ in cases), f"pub-{run_id}") == len(cases)

    seen: list[DeadLetterRecord] = []

    def collect() -> int:
        seen.extend(d for d in reader.poll() if utility in d.source_topic)
        return len(seen)

    assert wait_until(collect, len(cases), timeout_s=60, interval_s=0) == len(cases)
    reader.close()
    expected = sorted((t, p, reason) for t, p, reason in cases)
    got = sorted((d.source_topic, d.payload, d.reason) for d in seen)
    assert got == expected  # the raw payload, with the right reason, exactly once each
    assert all(d.headers["received_at"] and d.headers["detail"] for d in seen)
    assert stored_readings(f"{utility}%") == 0


def test_bridge_killed_mid_run_loses_and_duplicates_nothing(
    pipeline: LocalPipeline, db: psycopg.Connection, services: CommonSettings, run_id: str,
    meter_base: int, wait_until: Callable[..., object], stored_readings: Callable[[str], int],
) -> None:  # fmt: skip
    fleet = DemoFleet(
        utilities=1, areas_per_utility=10, devices_per_area=2, meters_per_device=50,
        intervals=60, meter_base=meter_base, utility_prefix=f"crash{run_id}",
    )  # fmt: skip
    publisher = threading.Thread(
        target=_publish, args=(services, fleet.payloads(), f"pub-{run_id}")
    )
    publisher.start()
    assert wait_until(lambda: stored_readings(f"crash{run_id}-%") > 0, True, interval_s=0.05)
    pipeline.ingest.kill()
    pipeline.start_ingest()
    publisher.join(timeout=300)
    got = wait_until(lambda: stored_readings(f"crash{run_id}-%"), fleet.readings)
    assert got == fleet.readings == 60_000
