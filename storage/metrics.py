"""Prometheus metrics of the storage writer."""

from prometheus_client import Counter, Gauge, Histogram

READINGS_OFFERED = Counter("meterwatch_store_readings_offered_total", "Readings consumed")
READINGS_INSERTED = Counter("meterwatch_store_readings_inserted_total", "New reading rows")
EVENTS_INSERTED = Counter("meterwatch_store_events_inserted_total", "New event rows")
ESTIMATES_INSERTED = Counter("meterwatch_store_estimates_inserted_total", "New estimate rows")
FALLBACKS = Counter(
    "meterwatch_store_dedup_fallbacks_total", "Batches that needed the ON CONFLICT path"
)
DEAD_LETTERS = Counter(
    "meterwatch_store_dead_letters_total", "Undecodable records sent to the DLQ", ["reason"]
)
BATCH_SECONDS = Histogram(
    "meterwatch_store_batch_seconds",
    "Time to write one batch (database transaction)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAST_COMMIT = Gauge("meterwatch_store_last_commit_timestamp_seconds", "Unix time of last commit")
