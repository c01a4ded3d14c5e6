"""The meterwatch exception tree.

Every error the project raises on purpose derives from :class:`MeterwatchError`.
Adapters map library errors (paho, kafka-python, psycopg) into these at the
boundary, chaining the original with ``raise ... from exc``.

    MeterwatchError
    ├── ConfigError            settings that cannot work (bad port, missing path)
    ├── DecodeError            a payload or frame that cannot be decoded
    │   └── RejectedPayload    input refused with a typed reason (goes to the DLQ)
    ├── CodecError             a binary frame with a bad header or schema version
    ├── DetectorError          detector misuse: wrong shapes, unknown meters
    ├── ServiceError           an external service (MQTT, Kafka, PostgreSQL) failed
    │   └── ServiceUnavailable the service does not answer at all
    └── StorageError           a database operation failed or a migration is broken
"""

from __future__ import annotations


class MeterwatchError(Exception):
    """Root of every error raised by meterwatch."""


class ConfigError(MeterwatchError):
    """A setting that cannot work."""


class DecodeError(MeterwatchError):
    """A payload or frame that cannot be decoded."""


class RejectedPayload(DecodeError):
    """Input refused with a typed reason; the caller sends it to the dead-letter topic."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class CodecError(MeterwatchError):
    """A binary frame with a bad header, schema version or body."""


class DetectorError(MeterwatchError):
    """A detector was called with inputs it cannot use (shapes, unknown meters)."""


class ServiceError(MeterwatchError):
    """An external service failed."""


class ServiceUnavailable(ServiceError):
    """An external service does not answer."""


class StorageError(MeterwatchError):
    """A database operation failed or a migration is broken."""
