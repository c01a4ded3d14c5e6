"""The checks every JSON-carried MQTT payload gets first: size, UTF-8, JSON, an object."""

from __future__ import annotations

import json
from typing import Any

from meterwatch.errors import RejectedPayload


def load_json_object(payload: bytes, max_bytes: int) -> dict[str, Any]:
    """Parse ``payload`` or raise :class:`RejectedPayload` with the reason a DLQ reader sees."""
    if len(payload) > max_bytes:
        raise RejectedPayload("oversized_payload", f"{len(payload)} bytes > {max_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedPayload("not_utf8", str(exc)) from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise RejectedPayload("not_json", str(exc)) from exc
    if not isinstance(doc, dict):
        raise RejectedPayload("bad_schema", "payload is not a JSON object")
    return doc
