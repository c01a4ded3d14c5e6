"""Reading ``meterwatch.readings.dlq``: what was refused, why, from where (demo, tests, ops)."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from meterwatch.domain import TOPIC_READINGS_DLQ


@dataclass(frozen=True)
class DeadLetterRecord:
    reason: str
    source_topic: str
    payload: bytes
    headers: dict[str, bytes]


class DeadLetterReader:
    """Reads the dead letters written after the reader was created."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = self._consumer.partitions_for_topic(TOPIC_READINGS_DLQ) or set()
        self._partitions = [TopicPartition(TOPIC_READINGS_DLQ, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        self._consumer.seek_to_end()
        for tp in self._partitions:  # resolve the end offsets now, not at the first poll
            self._consumer.seek(tp, self._consumer.position(tp))

    def poll(self, timeout_ms: int = 500) -> list[DeadLetterRecord]:
        found = []
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            for r in records:
                headers = dict(r.headers)
                found.append(
                    DeadLetterRecord(
                        reason=headers.get("reason", b"").decode(),
                        source_topic=headers.get("source_topic", b"").decode(),
                        payload=r.value,
                        headers=headers,
                    )
                )
        return found

    def close(self) -> None:
        self._consumer.close()
