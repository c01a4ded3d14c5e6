"""The storage writer against real Kafka and PostgreSQL: crash, restart, exactly N rows."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from meterwatch.processes import LocalPipeline
from meterwatch.settings import CommonSettings
from simulators.demo_fleet import DemoFleet
from simulators.publisher import MqttPublisher

pytestmark = pytest.mark.integration


def test_writer_killed_mid_run_loses_and_duplicates_nothing(
    pipeline: LocalPipeline, db: psycopg.Connection, services: CommonSettings, run_id: str,
    meter_base: int, wait_until: Callable[..., object], stored_readings: Callable[[str], int],
) -> None:  # fmt: skip
    fleet = DemoFleet(
        utilities=1, areas_per_utility=10, devices_per_area=2, meters_per_device=50,
        intervals=60, meter_base=meter_base, utility_prefix=f"wcrash{run_id}",
    )  # fmt: skip

    def count() -> int:
        return stored_readings(f"wcrash{run_id}-%")

    publisher = MqttPublisher(services.mqtt_host, services.mqtt_port, f"pub-{run_id}")
    sender = threading.Thread(target=publisher.publish_all, args=(fleet.payloads(),))
    sender.start()
    assert wait_until(lambda: count() > 0, True, interval_s=0.05)
    pipeline.store.kill()
    pipeline.start_store()
    sender.join(timeout=300)
    publisher.close()
    assert wait_until(count, fleet.readings) == fleet.readings == 60_000
    assert wait_until(count, -1, timeout_s=3) == fleet.readings  # and it stays there
