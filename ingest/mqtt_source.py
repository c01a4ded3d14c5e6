"""MQTT side of the bridge: a persistent MQTT v5 session with manual QoS1 acknowledgements.

paho's network loop runs in its own thread and only queues messages; the bridge acknowledges
them (``ack``) after Kafka acknowledged the batch that carries them. Until then the broker keeps
them in flight, and redelivers them to the same session after a crash.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from meterwatch.errors import ServiceUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: int


class MqttSource:
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        subscription: str,
        receive_maximum: int,
        session_expiry_s: int,
    ) -> None:
        self._host, self._port = host, port
        self._subscription = subscription
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self.messages: queue.Queue[InboundMessage] = queue.Queue()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self, timeout_s: float = 30.0) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        try:
            self._client.connect(
                self._host, self._port, keepalive=30, clean_start=False, properties=props
            )
        except OSError as exc:
            raise ServiceUnavailable(f"MQTT broker {self._host}:{self._port}: {exc}") from exc
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise ServiceUnavailable(f"no MQTT subscription within {timeout_s}s")

    def ack(self, acks: list[tuple[int, int]]) -> None:
        for mid, qos in acks:
            if qos > 0:
                self._client.ack(mid, qos)

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        log.info("MQTT connected (session present: %s)", flags.session_present)
        client.subscribe(self._subscription, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        if any(rc.is_failure for rc in reason_codes):
            log.error("MQTT subscription refused: %s", reason_codes)
            return
        self._subscribed.set()

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        self.messages.put(
            InboundMessage(msg.topic, msg.payload, msg.mid, msg.qos, int(time.time()))
        )


def forget_session(host: str, port: int, client_id: str) -> None:
    """Drop a bridge's persistent session on the broker.

    A bridge that is gone for good must be forgotten: while its session lives, the broker
    keeps handing it its share of the shared subscription, and those messages wait for a
    client that never returns. Connecting once with a clean start and a zero session expiry
    discards the session.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    try:
        client.connect(host, port, keepalive=10, clean_start=True, properties=props)
        client.loop_start()
        client.disconnect()
        client.loop_stop()
    except OSError as exc:
        raise ServiceUnavailable(f"MQTT broker {host}:{port}: {exc}") from exc
