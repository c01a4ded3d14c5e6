"""Micro-batching of MQTT messages into per-area frames (pure: no I/O, no clock).

The bridge feeds decoded messages in and takes out a :class:`Batch`: the frames to produce
(one per area, split at ``max_frame_readings``), the dead letters, and the MQTT message ids to
acknowledge once Kafka has acknowledged everything else in the batch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from meterwatch.domain import ReadingFrame
from meterwatch.payloads import DeadLetter, PayloadLimits, decode_payload


@dataclass
class Batch:
    frames: list[ReadingFrame] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)  # (mid, qos)
    messages: int = 0

    @property
    def readings(self) -> int:
        return sum(len(f) for f in self.frames)


class AreaBatcher:
    """Accumulates messages until the caller drains a batch."""

    def __init__(self, limits: PayloadLimits, max_frame_readings: int = 10_000) -> None:
        self._limits = limits
        self._max_frame = max_frame_readings
        self._reset()

    def _reset(self) -> None:
        self._parts: dict[tuple[str, str], list[ReadingFrame]] = defaultdict(list)
        self._batch = Batch()

    def __len__(self) -> int:
        return self._batch.messages

    def add(self, topic: str, payload: bytes, received_at: int, mid: int, qos: int) -> None:
        frame, letters = decode_payload(topic, payload, received_at, self._limits)
        if frame is not None:
            self._parts[(frame.utility, frame.area)].append(frame)
        self._batch.dead_letters.extend(letters)
        self._batch.acks.append((mid, qos))
        self._batch.messages += 1

    def drain(self) -> Batch:
        batch = self._batch
        for parts in self._parts.values():
            batch.frames.extend(_split(ReadingFrame.concat(parts), self._max_frame))
        self._reset()
        return batch


def _split(frame: ReadingFrame, size: int) -> list[ReadingFrame]:
    if len(frame) <= size:
        return [frame]
    return [frame.select(slice(i, i + size)) for i in range(0, len(frame), size)]
