"""A decreasing register through the real pipeline gives exactly one event row."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from meterwatch.processes import LocalPipeline
from meterwatch.settings import CommonSettings
from simulators.demo_fleet import DemoFleet
from simulators.publisher import MqttPublisher

pytestmark = pytest.mark.integration


def test_one_event_row_even_when_the_same_frame_is_delivered_twice(
    pipeline: LocalPipeline, db: psycopg.Connection, services: CommonSettings, run_id: str,
    meter_base: int, wait_until: Callable[..., object], stored_readings: Callable[[str], int],
) -> None:  # fmt: skip
    fleet = DemoFleet(
        utilities=1, areas_per_utility=1, devices_per_area=1, meters_per_device=10,
        intervals=8, meter_base=meter_base, utility_prefix=f"dq{run_id}",
    )  # fmt: skip
    bad_meter = fleet.meter_id(0, 3)
    fleet = DemoFleet(**{**fleet.__dict__, "decreasing": (bad_meter,)})
    payloads = list(fleet.payloads())
    publisher = MqttPublisher(services.mqtt_host, services.mqtt_port, f"pub-{run_id}")
    publisher.publish_all(payloads)
    publisher.publish_all(payloads)  # the same readings again: new frames, same content
    publisher.close()

    def events() -> list[tuple[str, str]]:
        return db.execute(
            "SELECT type, subject FROM event WHERE utility_id = %s", (f"dq{run_id}-1",)
        ).fetchall()

    expected = [("meterwatch.meter.register_decreased.v1", bad_meter)]
    assert wait_until(events, expected, timeout_s=60) == expected
    assert stored_readings(f"dq{run_id}-1") == fleet.readings
    assert wait_until(events, [], timeout_s=3) == expected  # no late duplicate shows up
