"""The load generator: paced, bounded, loopback only; the rate it reports is what was acked."""

from __future__ import annotations

import time

import pytest

from meterwatch.errors import ConfigError
from meterwatch.payloads import decode_payload
from meterwatch.settings import CommonSettings
from simulators.loadgen import LoadGenSpec, load_messages, publish_paced, require_loopback, run_load


class InstantSink:
    """Acknowledges every message at once."""

    def __init__(self) -> None:
        self.acked_readings = 0
        self.last_ack = time.monotonic()
        self.topics: list[str] = []

    def publish(self, topic: str, payload: bytes, readings: int) -> None:
        self.topics.append(topic)
        self.acked_readings += readings
        self.last_ack = time.monotonic()

    def wait_acked(self, timeout_s: float) -> bool:
        return True


def test_pacing_holds_the_target_rate_and_stops_at_the_duration() -> None:
    spec = LoadGenSpec(rate=4_000, duration_s=0.5, meters=400, meters_per_message=20)
    report = publish_paced(load_messages(spec), InstantSink(), stop_after_s=spec.duration_s)
    # never faster than the target; slower only if this machine is very busy
    assert 0.45 <= report.send_s <= 1.0
    assert 1_000 <= report.readings <= 2_100
    assert report.acked_readings == report.readings and report.complete
    assert report.achieved_rate <= 4_400


def test_generated_payloads_decode_and_are_not_in_the_future() -> None:
    spec = LoadGenSpec(rate=1_000, duration_s=1, meters=50, meters_per_message=10,
                       dlt645_fraction=0.5)  # fmt: skip
    now = int(time.time())
    items = list(load_messages(spec))
    assert sum(n for *_, n in items) == spec.intervals * spec.meters
    assert {topic.rsplit("/", 1)[1] for _, topic, _, _ in items} == {"json", "dlt645"}
    for _, topic, payload, n in items:
        frame, letters = decode_payload(topic, payload, now)
        assert letters == [] and frame is not None and len(frame) == n
        assert frame.ts.max() < now


def test_only_loopback_brokers_and_only_past_timestamps() -> None:
    require_loopback("127.0.0.1")
    require_loopback("localhost")
    with pytest.raises(ConfigError):
        require_loopback("192.0.2.1")
    with pytest.raises(ConfigError):
        LoadGenSpec(rate=1e6, duration_s=1e4, meters=10).check_past(time.time())
    with pytest.raises(ConfigError):
        LoadGenSpec(rate=0, duration_s=1)


@pytest.mark.integration
def test_against_the_local_broker(settings: CommonSettings) -> None:
    spec = LoadGenSpec(rate=2_000, duration_s=1.0, meters=200, meters_per_message=50,
                       utility="loadgen-test")  # fmt: skip
    report = run_load(spec, settings.mqtt_host, settings.mqtt_port, ack_timeout_s=10)
    assert report.complete and report.acked_readings == report.readings >= 1_800
    assert report.achieved_rate > 1_000
