"""Paced QoS1 publishing of simulated messages, and the load generator.

:func:`publish_paced` sends each message at its due time (relative to the start), keeps
count of the PUBACKs and reports the rate actually achieved: readings acknowledged by the
broker per second, from the first send to the last acknowledgement. ``simulate mqtt`` uses
it with due times from simulated time divided by an acceleration factor; :func:`run_load`
with due times from a target rate.

The load generator is bounded: it stops sending after ``duration_s``, waits at most
``ack_timeout_s`` for the outstanding acknowledgements, and only talks to a broker on the
loopback interface. Its fleet is simple (gamma-distributed increments, no physics): it
measures throughput, not detection. Readings are stamped from a fixed past start, one
15-minute interval per round over all meters, so timestamps are never in the future.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from meterwatch.errors import ConfigError, ServiceUnavailable
from simulators.fleet import FleetSpec
from simulators.payload_stream import Columns, dlt645_payload, json_payload

Paced = tuple[float, str, bytes, int]  # (due s after the start, topic, payload, readings)


class Sink(Protocol):
    """Where paced messages go; counts acknowledged readings."""

    def publish(self, topic: str, payload: bytes, readings: int) -> None: ...

    def wait_acked(self, timeout_s: float) -> bool: ...

    @property
    def acked_readings(self) -> int: ...

    @property
    def last_ack(self) -> float: ...  # time.monotonic() of the latest acknowledgement


class MqttSink:
    """A paho MQTT v5 client publishing with QoS1 and counting PUBACKs."""

    def __init__(self, host: str, port: int, client_id: str, max_inflight: int = 1000) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._early: set[int] = set()
        self._acked = 0
        self._last_ack = time.monotonic()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.on_publish = self._on_publish
        try:
            self._client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise ServiceUnavailable(f"MQTT broker {host}:{port}: {exc}") from exc
        self._client.loop_start()

    def _on_publish(self, client: object, userdata: object, mid: int, *rest: object) -> None:
        with self._lock:
            readings = self._pending.pop(mid, None)
            if readings is None:  # acknowledged before publish() recorded the mid
                self._early.add(mid)
                return
            self._acked += readings
            self._last_ack = time.monotonic()

    def publish(self, topic: str, payload: bytes, readings: int) -> None:
        # not under the lock: paho calls on_publish holding its own lock, which publish needs
        info = self._client.publish(topic, payload, qos=1)
        with self._lock:
            if info.mid in self._early:
                self._early.discard(info.mid)
                self._acked += readings
                self._last_ack = time.monotonic()
            else:
                self._pending[info.mid] = readings

    def wait_acked(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    @property
    def acked_readings(self) -> int:
        with self._lock:
            return self._acked

    @property
    def last_ack(self) -> float:
        with self._lock:
            return self._last_ack

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@dataclass(frozen=True)
class PublishReport:
    messages: int
    readings: int
    acked_readings: int
    send_s: float  # from the first send to the last
    elapsed_s: float  # from the first send to the last acknowledgement
    complete: bool  # every message was acknowledged

    @property
    def achieved_rate(self) -> float:
        """Acknowledged readings per second."""
        return self.acked_readings / self.elapsed_s if self.elapsed_s > 0 else 0.0


def publish_paced(
    items: Iterable[Paced],
    sink: Sink,
    *,
    stop_after_s: float = math.inf,
    ack_timeout_s: float = 30.0,
    on_sent: Callable[[int], None] | None = None,
) -> PublishReport:
    """Send every item at its due time; stop sending once ``stop_after_s`` has passed."""
    start = time.monotonic()
    messages = readings = 0
    for due, topic, payload, count in items:
        now = time.monotonic() - start
        if now >= stop_after_s:
            break
        if due > now:
            time.sleep(min(due, stop_after_s) - now)
            if time.monotonic() - start >= stop_after_s:
                break
        sink.publish(topic, payload, count)
        messages += 1
        readings += count
        if on_sent is not None:
            on_sent(count)
    send_s = time.monotonic() - start
    complete = sink.wait_acked(ack_timeout_s)
    acked = sink.acked_readings
    elapsed = (sink.last_ack if acked else time.monotonic()) - start
    return PublishReport(messages, readings, acked, send_s, max(elapsed, send_s), complete)


def require_loopback(host: str) -> None:
    """Refuse any broker that is not on this machine's loopback interface."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise ConfigError(f"cannot resolve {host!r}: {exc}") from exc
    if not all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses):
        raise ConfigError(f"the load generator only publishes to loopback, not {host!r}")


@dataclass(frozen=True)
class LoadGenSpec:
    """What to send: ``rate`` readings/s for ``duration_s`` from ``meters`` meters."""

    rate: float
    duration_s: float
    meters: int = 10_000
    meters_per_message: int = 100
    dlt645_fraction: float = 0.0
    devices_per_area: int = 4
    seed: int = 11
    start: str = "2026-01-01T00:00:00Z"
    utility: str = "loadgen"
    meter_base: int = 900_000_000_000

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.duration_s <= 0:
            raise ConfigError("rate and duration must be positive")
        if not 1 <= self.meters_per_message <= self.meters:
            raise ConfigError("meters_per_message must be in 1 .. meters")
        if self.meter_base + self.meters >= 10**12:
            raise ConfigError("meter numbers must fit 12 decimal digits")

    @property
    def intervals(self) -> int:
        return math.ceil(self.rate * self.duration_s / self.meters) + 1

    def check_past(self, now_s: float) -> None:
        start_s = FleetSpec(start=self.start).start_s
        if start_s + self.intervals * 900 > now_s:
            raise ConfigError(
                f"{self.intervals} intervals from {self.start} reach the future: "
                "use more meters (--meters) or an earlier start"
            )


def load_messages(spec: LoadGenSpec) -> Iterator[Paced]:
    """The generator's messages, due at ``rate`` readings per second, lazily built."""
    rng = np.random.default_rng(spec.seed)
    start_s = FleetSpec(start=spec.start).start_s
    meters = np.array([f"{spec.meter_base + i:012d}" for i in range(spec.meters)])
    devices = -(-spec.meters // spec.meters_per_message)
    dlt = rng.random(devices) < spec.dlt645_fraction
    register = rng.integers(1_000_000, 50_000_000, spec.meters) // 10 * 10
    sent = 0
    for k in range(spec.intervals):
        register = register + (rng.gamma(2.0, 60.0, spec.meters) // 10 * 10).astype(np.int64)
        voltage = np.round(rng.normal(230.0, 3.0, spec.meters), 1)
        current = np.round(rng.gamma(2.0, 1.0, spec.meters), 3)
        ts = np.full(spec.meters, start_s + (k + 1) * 900, dtype=np.int64)
        for d in range(devices):
            part = slice(d * spec.meters_per_message, (d + 1) * spec.meters_per_message)
            c = Columns(
                meters[part],
                ts[part],
                register[part],
                np.zeros_like(register[part]),
                voltage[part],
                current[part],
            )
            device = f"lg-{d + 1:05d}"
            fmt = "dlt645" if dlt[d] else "json"
            topic = f"meters/{spec.utility}/lg-area-{d // spec.devices_per_area + 1}/{device}/{fmt}"
            payload = dlt645_payload(int(ts[0]), c) if dlt[d] else json_payload(device, c)
            yield sent / spec.rate, topic, payload, int(c.meter.size)
            sent += int(c.meter.size)


def run_load(
    spec: LoadGenSpec,
    host: str,
    port: int,
    *,
    ack_timeout_s: float = 30.0,
    on_sent: Callable[[int], None] | None = None,
) -> PublishReport:
    """Publish ``spec``'s load to the loopback broker ``host:port`` and report the rate."""
    require_loopback(host)
    spec.check_past(time.time())
    sink = MqttSink(host, port, f"meterwatch-loadgen-{spec.seed}-{time.monotonic_ns()}")
    try:
        return publish_paced(
            load_messages(spec),
            sink,
            stop_after_s=spec.duration_s,
            ack_timeout_s=ack_timeout_s,
            on_sent=on_sent,
        )
    finally:
        sink.close()
