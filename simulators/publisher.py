"""Publishing payloads over MQTT like field devices do: QoS1, with a large in-flight window."""

from __future__ import annotations

import time
from collections.abc import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from meterwatch.errors import ServiceError, ServiceUnavailable


class MqttPublisher:
    def __init__(self, host: str, port: int, client_id: str, max_inflight: int = 1000) -> None:
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        try:
            self._client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise ServiceUnavailable(f"MQTT broker {host}:{port}: {exc}") from exc
        self._client.loop_start()

    def publish_all(self, messages: Iterable[tuple[str, bytes]], timeout_s: float = 300.0) -> int:
        """Publish every (topic, payload) with QoS1 and wait for all PUBACKs; return the count."""
        infos = [self._client.publish(topic, payload, qos=1) for topic, payload in messages]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(timeout=max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise ServiceError(f"MQTT publish not acknowledged within {timeout_s}s")
        return len(infos)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
