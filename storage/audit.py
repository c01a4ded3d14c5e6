"""Verification of the hash-chained audit log (migration 0004).

Row ``seq`` holds ``body`` (the canonical serialisation of the record), ``prev_hash`` and
``hash = sha256(prev_hash || utf8(body))``; the first row's ``prev_hash`` is 32 zero bytes and
``seq`` runs 1, 2, 3, ... without gaps. :func:`verify_chain` recomputes all of it in Python,
independently of the database's functions, and names the first row that breaks the chain:

- ``altered``: the row's hash does not match its body, or its columns differ from the body;
- ``removed``: a gap in ``seq`` (the rows in between are gone);
- ``out_of_order``: the row does not chain to the row before it (inserted or re-hashed).

Removing the newest rows leaves a valid, shorter chain: compare the reported head
(``head_seq``, ``head_hash``) with one recorded elsewhere to detect that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

import psycopg

from meterwatch.errors import StorageError

GENESIS = bytes(32)
Fault = Literal["altered", "removed", "out_of_order"]


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    fault: Fault
    detail: str


@dataclass(frozen=True)
class AuditReport:
    rows_checked: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def _row_break(
    seq: int, kind: str, ref: str, utility: str | None, body: str, prev_hash: bytes, digest: bytes
) -> ChainBreak | None:
    if hashlib.sha256(prev_hash + body.encode("utf-8")).digest() != digest:
        return ChainBreak(seq, "altered", f"row {seq}: its hash does not match its content")
    try:
        record = json.loads(body)
    except ValueError:
        return ChainBreak(seq, "altered", f"row {seq}: its body is not JSON")
    if not isinstance(record, dict) or (
        record.get("seq"),
        record.get("kind"),
        record.get("ref"),
        record.get("utility_id"),
    ) != (seq, kind, ref, utility):
        return ChainBreak(seq, "altered", f"row {seq}: its columns differ from the hashed body")
    return None


def verify_chain(conn: psycopg.Connection, batch_rows: int = 10_000) -> AuditReport:
    """Walk the whole log in ``seq`` order; stop at the first break."""
    expected_seq, previous = 1, GENESIS
    checked = 0
    try:
        with conn.transaction(), conn.cursor(name="audit_walk") as cur:
            cur.itersize = batch_rows
            cur.execute(
                "SELECT seq, kind, ref, utility_id, body, prev_hash, hash FROM audit_log "
                "ORDER BY seq"
            )
            for seq, kind, ref, utility, body, prev_hash, digest in cur:
                found = _row_break(seq, kind, ref, utility, body, bytes(prev_hash), bytes(digest))
                if found is None and seq > expected_seq:
                    gap = (
                        f"{expected_seq}"
                        if seq == expected_seq + 1
                        else f"{expected_seq}-{seq - 1}"
                    )
                    found = ChainBreak(seq, "removed", f"row(s) {gap} removed before row {seq}")
                if found is None and (seq < expected_seq or bytes(prev_hash) != previous):
                    found = ChainBreak(
                        seq, "out_of_order",
                        f"row {seq} does not chain to row {expected_seq - 1} "
                        "(inserted out of order, or the row before it was re-hashed)",
                    )  # fmt: skip
                if found is not None:
                    return AuditReport(checked, expected_seq - 1, previous.hex(), found)
                checked += 1
                expected_seq, previous = seq + 1, bytes(digest)
    except psycopg.Error as exc:
        raise StorageError(f"reading the audit log failed: {exc}") from exc
    return AuditReport(checked, expected_seq - 1, previous.hex(), None)
