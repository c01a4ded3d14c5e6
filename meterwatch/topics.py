"""Explicit creation of the Kafka topics (the broker's auto-creation is off, see deploy/local).

Faust tables need their changelog partitions to match the source topic, so every topic is
created with the same, configured partition count.
"""

from __future__ import annotations

import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from meterwatch.domain import TOPIC_ESTIMATES, TOPIC_EVENTS, TOPIC_READINGS, TOPIC_READINGS_DLQ
from meterwatch.errors import ServiceError, ServiceUnavailable

ALL_TOPICS = (TOPIC_READINGS, TOPIC_READINGS_DLQ, TOPIC_ESTIMATES, TOPIC_EVENTS)


def ensure_topics(bootstrap: str, partitions: int) -> list[str]:
    """Create the missing meterwatch topics; return the names that were created."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="meterwatch-admin")
    except KafkaError as exc:
        raise ServiceUnavailable(f"Kafka at {bootstrap} does not answer: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        wanted = [t for t in ALL_TOPICS if t not in existing]
        created = []
        for name in wanted:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process won the race
        mismatched = _partition_mismatches(admin, partitions)
        deadline = time.monotonic() + 30
        while any(n == 0 for n in mismatched.values()) and time.monotonic() < deadline:
            time.sleep(0.5)  # a new topic's partitions take a moment to show in metadata
            mismatched = _partition_mismatches(admin, partitions)
        if mismatched:
            raise ServiceError(
                f"topics with a partition count other than {partitions}: {mismatched}"
            )
        return created
    except KafkaError as exc:
        raise ServiceError(f"creating topics on {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()


def _partition_mismatches(admin: KafkaAdminClient, partitions: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for desc in admin.describe_topics(list(ALL_TOPICS)):
        count = len(desc.get("partitions", []))
        if count != partitions:
            found[desc["name"]] = count
    return found
