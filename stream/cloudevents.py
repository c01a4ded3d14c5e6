"""CloudEvents 1.0 (JSON) for ``meterwatch.events``, with deterministic ids.

The id is a hash of the event type, the subject (meter id) and the canonical JSON of the
evidence, so replaying a partition re-emits exactly the same ids and the store's primary key
absorbs the duplicates.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Final

SPEC_VERSION: Final = "1.0"


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace: the same value always serialises to the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def event_id(event_type: str, subject: str, evidence: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"{event_type}\n{subject}\n{canonical_json(evidence)}".encode())
    return digest.hexdigest()[:32]


def make_event(
    event_type: str, source: str, subject: str, time_s: int, data: dict[str, Any]
) -> dict[str, Any]:
    """A CloudEvent whose ``time`` is the data's time (epoch seconds), never the wall clock."""
    return {
        "specversion": SPEC_VERSION,
        "id": event_id(event_type, subject, data),
        "type": event_type,
        "source": source,
        "subject": subject,
        "time": datetime.fromtimestamp(time_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datacontenttype": "application/json",
        "data": data,
    }
