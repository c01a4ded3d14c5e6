"""Kafka side of the bridge: produce a batch and wait until Kafka has acknowledged all of it."""

from __future__ import annotations

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.batcher import Batch
from meterwatch.domain import TOPIC_READINGS, TOPIC_READINGS_DLQ
from meterwatch.errors import ServiceError, ServiceUnavailable
from meterwatch.frame_codec import encode_frame


class FrameProducer:
    """Idempotent, ``acks=all`` producer of reading frames and dead letters."""

    def __init__(self, bootstrap: str, compression: str | None = "lz4", timeout_s: float = 30.0):
        self._timeout_s = timeout_s
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id="meterwatch-ingest",
                acks="all",
                enable_idempotence=True,
                compression_type=compression or None,
                linger_ms=5,
                batch_size=1 << 20,
                max_request_size=4 << 20,
            )
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka at {bootstrap} does not answer: {exc}") from exc

    def publish(self, batch: Batch) -> int:
        """Send every frame and dead letter of ``batch``; return the bytes sent.

        Raises :class:`ServiceError` unless Kafka acknowledged every record, in which case the
        caller must not acknowledge the batch's MQTT messages.
        """
        futures = []
        sent = 0
        try:
            for frame in batch.frames:
                value = encode_frame(frame)
                sent += len(value)
                futures.append(
                    self._producer.send(TOPIC_READINGS, key=frame.area_key.encode(), value=value)
                )
            for letter in batch.dead_letters:
                futures.append(
                    self._producer.send(
                        TOPIC_READINGS_DLQ,
                        key=letter.source_topic.encode(),
                        value=letter.payload,
                        headers=letter.headers(),
                    )
                )
            self._producer.flush(timeout=self._timeout_s)
            for future in futures:
                future.get(timeout=0)  # raises the record's error, if any
        except KafkaError as exc:
            raise ServiceError(f"Kafka did not acknowledge a batch: {exc}") from exc
        return sent

    def close(self) -> None:
        self._producer.close(timeout=self._timeout_s)
