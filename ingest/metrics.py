"""Prometheus metrics of the MQTT -> Kafka bridge."""

from prometheus_client import Counter, Histogram

MESSAGES = Counter("meterwatch_ingest_messages_total", "MQTT messages received")
READINGS = Counter("meterwatch_ingest_readings_total", "Readings produced to Kafka")
FRAMES = Counter("meterwatch_ingest_frames_total", "Reading frames produced to Kafka")
REJECTED = Counter(
    "meterwatch_ingest_rejected_total", "Dead letters sent to the DLQ, by reason", ["reason"]
)
KAFKA_BYTES = Counter("meterwatch_ingest_kafka_bytes_total", "Frame bytes produced")
BATCH_SECONDS = Histogram(
    "meterwatch_ingest_batch_seconds",
    "Time from a batch's first message to its MQTT acknowledgement",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
