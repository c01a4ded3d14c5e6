"""The MQTT -> Kafka bridge loop.

Take messages for at most ``linger_ms`` (or ``max_batch_messages``), decode and batch them by
area, produce the batch, wait for Kafka's acknowledgement, then acknowledge the MQTT messages.
A Kafka failure stops the bridge without acknowledging, so the broker redelivers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from ingest import metrics
from ingest.batcher import AreaBatcher, Batch
from ingest.kafka_sink import FrameProducer
from ingest.mqtt_source import MqttSource
from meterwatch.payloads import PayloadLimits
from meterwatch.settings import IngestSettings

log = logging.getLogger(__name__)


class Bridge:
    def __init__(self, settings: IngestSettings, source: MqttSource, sink: FrameProducer) -> None:
        self._settings = settings
        self._source = source
        self._sink = sink
        self._batcher = AreaBatcher(
            PayloadLimits(max_bytes=settings.max_payload_bytes, max_future_s=settings.max_future_s)
        )
        self.stopping = threading.Event()

    def run(self) -> None:
        """Run until :attr:`stopping` is set; the last batch is still flushed and acknowledged."""
        while not self.stopping.is_set():
            started = self._fill()
            if started is not None:
                self._flush(started)

    def _fill(self) -> float | None:
        """Collect one batch; return when its first message arrived (None if none came)."""
        try:
            first = self._source.messages.get(timeout=0.2)
        except queue.Empty:
            return None
        started = time.monotonic()
        deadline = started + self._settings.linger_ms / 1000
        message = first
        while True:
            self._batcher.add(
                message.topic, message.payload, message.received_at, message.mid, message.qos
            )
            if len(self._batcher) >= self._settings.max_batch_messages:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = self._source.messages.get(timeout=remaining)
            except queue.Empty:
                break
        return started

    def _flush(self, started: float) -> None:
        batch: Batch = self._batcher.drain()
        sent = self._sink.publish(batch)  # raises unless Kafka acknowledged everything
        self._source.ack(batch.acks)
        metrics.MESSAGES.inc(batch.messages)
        metrics.READINGS.inc(batch.readings)
        metrics.FRAMES.inc(len(batch.frames))
        metrics.KAFKA_BYTES.inc(sent)
        for letter in batch.dead_letters:
            metrics.REJECTED.labels(letter.reason).inc()
            log.warning(
                "dead letter from %s: %s %s", letter.source_topic, letter.reason, letter.detail
            )
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)


def run_bridge(settings: IngestSettings) -> None:
    """Build the adapters from settings and run the bridge until SIGTERM/SIGINT."""
    import signal

    source = MqttSource(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_client_id,
        f"$share/{settings.mqtt_share_group}/meters/#",
        settings.mqtt_receive_maximum,
        settings.mqtt_session_expiry_s,
    )
    sink = FrameProducer(settings.kafka_bootstrap, settings.compression)
    bridge = Bridge(settings, source, sink)

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the current batch", signum)
        bridge.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    source.start()
    log.info(
        "bridge running: mqtt %s:%s -> kafka %s",
        settings.mqtt_host,
        settings.mqtt_port,
        settings.kafka_bootstrap,
    )
    try:
        bridge.run()
    finally:
        source.stop()
        sink.close()
