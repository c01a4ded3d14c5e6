"""Prometheus metrics of the stream workers."""

from prometheus_client import Counter, Histogram

FRAMES = Counter("meterwatch_stream_frames_total", "Reading frames processed")
READINGS = Counter("meterwatch_stream_readings_total", "Readings processed")
ESTIMATES = Counter("meterwatch_stream_estimates_total", "Per-meter error estimates emitted")
EVENTS = Counter("meterwatch_stream_events_total", "Events emitted, by type", ["type"])
DEAD_LETTERS = Counter(
    "meterwatch_stream_dead_letters_total", "Undecodable frames sent to the DLQ", ["reason"]
)
STATE_RESETS = Counter(
    "meterwatch_stream_state_resets_total", "Areas whose stored detector state was unusable"
)
FRAME_SECONDS = Histogram(
    "meterwatch_stream_frame_seconds",
    "Time to process one frame, events delivered included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
