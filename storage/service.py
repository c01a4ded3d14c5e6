"""The storage writer service: consume readings and events from Kafka, write them in batches.

Offsets live in the database (see :mod:`storage.writer`): on every partition assignment the
consumer seeks to the offsets committed with the rows. Offsets are also committed to Kafka
afterwards, for lag monitoring only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from meterwatch.domain import (
    TOPIC_ESTIMATES,
    TOPIC_EVENTS,
    TOPIC_READINGS,
    TOPIC_READINGS_DLQ,
    ReadingFrame,
)
from meterwatch.errors import CodecError, ServiceError, ServiceUnavailable
from meterwatch.frame_codec import decode_frame
from meterwatch.settings import StoreSettings
from storage import metrics
from storage.migrate import connect
from storage.writer import BatchWriter, TopicOffset

log = logging.getLogger(__name__)
REQUIRED_EVENT_FIELDS = ("id", "type", "source", "subject", "time")
ESTIMATE_FIELDS = ("meter", "utility", "area", "estimate_pct", "uncertainty_pct",
                   "identifiable", "decision", "detector", "window")  # fmt: skip


class _SeekToCommitted(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: StoreService) -> None:
        self._service = service

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._service.seek_to_committed(assigned)


class StoreService:
    def __init__(self, settings: StoreSettings) -> None:
        self._settings = settings
        self._conn = connect(settings.writer_database_url)  # not the owner: no DDL, no audit edits
        self._writer = BatchWriter(self._conn, settings.consumer_group, settings.partition_days)
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=settings.kafka_bootstrap,
                group_id=settings.consumer_group,
                client_id="meterwatch-store",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=16 << 20,
                fetch_max_bytes=64 << 20,
            )
            self._dlq = KafkaProducer(
                bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
            )
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka at {settings.kafka_bootstrap}: {exc}") from exc
        self._consumer.subscribe(
            [TOPIC_READINGS, TOPIC_EVENTS, TOPIC_ESTIMATES], listener=_SeekToCommitted(self)
        )
        self.stopping = threading.Event()

    def seek_to_committed(self, assigned: Any) -> None:
        committed = self._writer.committed_offsets()
        for tp in assigned:
            offset = committed.get((tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)
        log.info("assigned %s; resuming from database offsets", sorted(map(tuple, assigned)))

    def run(self) -> None:
        while not self.stopping.is_set():
            self.poll_once()
        self.close()

    def poll_once(self) -> int:
        """Consume and write one batch; return the number of records consumed."""
        records = self._consumer.poll(
            timeout_ms=self._settings.poll_timeout_ms, max_records=self._settings.max_poll_frames
        )
        if not records:
            return 0
        started = time.monotonic()
        frames: list[ReadingFrame] = []
        events: list[dict[str, Any]] = []
        estimates: list[dict[str, Any]] = []
        offsets: list[TopicOffset] = []
        count = 0
        for tp, batch in records.items():
            count += len(batch)
            for record in batch:
                if tp.topic == TOPIC_READINGS:
                    self._decode_frame(record, frames)
                elif tp.topic == TOPIC_ESTIMATES:
                    self._decode_estimates(record, estimates)
                else:
                    self._decode_event(record, events)
            offsets.append(TopicOffset(tp.topic, tp.partition, batch[-1].offset + 1))
        self._dlq.flush()  # dead letters are durable before their offsets are committed
        result = self._writer.write(frames, events, offsets, estimates)
        metrics.READINGS_OFFERED.inc(result.readings_offered)
        metrics.READINGS_INSERTED.inc(result.readings_inserted)
        metrics.EVENTS_INSERTED.inc(result.events_inserted)
        metrics.ESTIMATES_INSERTED.inc(result.estimates_inserted)
        metrics.FALLBACKS.inc(int(result.fallback_used))
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)
        metrics.LAST_COMMIT.set_to_current_time()
        self._commit_to_kafka(offsets)
        return count

    def _decode_frame(self, record: Any, frames: list[ReadingFrame]) -> None:
        try:
            frames.append(decode_frame(record.value))
        except CodecError as exc:
            self._dead_letter(record, "corrupt_frame", str(exc))

    def _decode_event(self, record: Any, events: list[dict[str, Any]]) -> None:
        try:
            event = json.loads(record.value)
            if not isinstance(event, dict) or any(
                not isinstance(event.get(k), str) for k in REQUIRED_EVENT_FIELDS
            ):
                raise ValueError(f"a CloudEvent needs string fields {REQUIRED_EVENT_FIELDS}")
            events.append(event)
        except ValueError as exc:
            self._dead_letter(record, "bad_event", str(exc))

    def _decode_estimates(self, record: Any, estimates: list[dict[str, Any]]) -> None:
        try:
            body = json.loads(record.value)
            rows = body["estimates"]
            for row in rows:
                if not all(k in row for k in ESTIMATE_FIELDS) or "end" not in row["window"]:
                    raise ValueError(f"an estimate needs {ESTIMATE_FIELDS} and window.end")
            estimates.extend(rows)
        except (ValueError, KeyError, TypeError) as exc:
            self._dead_letter(record, "bad_estimates", str(exc))

    def _dead_letter(self, record: Any, reason: str, detail: str) -> None:
        metrics.DEAD_LETTERS.labels(reason).inc()
        log.warning(
            "dead letter %s[%s]@%s: %s", record.topic, record.partition, record.offset, detail
        )
        headers = [
            ("reason", reason.encode()),
            ("detail", detail.encode()[:1000]),
            ("source_topic", record.topic.encode()),
            ("received_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode()),
        ]
        self._dlq.send(TOPIC_READINGS_DLQ, key=record.key, value=record.value, headers=headers)

    def _commit_to_kafka(self, offsets: list[TopicOffset]) -> None:
        try:
            self._consumer.commit(
                {
                    TopicPartition(o.topic, o.partition): OffsetAndMetadata(o.next_offset, "", -1)
                    for o in offsets
                }
            )
        except KafkaError as exc:  # informational only: the database holds the truth
            log.warning("Kafka offset commit failed (database offsets are kept): %s", exc)

    def close(self) -> None:
        try:
            self._consumer.close(autocommit=False)
            self._dlq.close(timeout=10)
        except KafkaError as exc:
            raise ServiceError(f"closing Kafka clients: {exc}") from exc
        finally:
            self._conn.close()
