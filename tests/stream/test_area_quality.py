from __future__ import annotations

import json

import numpy as np

from meterwatch.domain import ReadingFrame
from stream.area_quality import StepResult, process_frame


def _frame(registers: list[int], start: int = 0) -> ReadingFrame:
    n = len(registers)
    return ReadingFrame(
        utility="u1",
        area="a1",
        meter=np.array(["000000000001"] * n),
        ts=np.array([1_795_651_200 + 900 * (start + i) for i in range(n)], dtype=np.int64),
        import_wh=np.array(registers, dtype=np.int64),
        export_wh=np.zeros(n, dtype=np.int64),
        voltage_v=np.full(n, 230.0),
        current_a=np.full(n, 1.0),
    )


def test_a_decreasing_register_gives_one_event_even_when_the_frame_is_redelivered() -> None:
    frame = _frame([1000, 1100, 1050, 1200])
    first = process_frame(frame, None)
    assert [e["type"] for e in first.events] == ["meterwatch.meter.register_decreased.v1"]
    event = first.events[0]
    assert event["subject"] == "000000000001"
    assert event["time"] == "2026-11-26T00:30:00Z"
    assert event["data"]["value"] == 1050.0 and event["data"]["reference"] == 1100.0
    assert json.loads(json.dumps(first.state)) == first.state  # the table stores JSON
    again = process_frame(frame, first.state)
    assert again.events == []


def test_replay_from_an_empty_state_reemits_the_same_event_id() -> None:
    frame = _frame([1000, 900])
    assert process_frame(frame, None).events[0]["id"] == process_frame(frame, None).events[0]["id"]


def test_state_carries_the_last_register_across_frames() -> None:
    state = process_frame(_frame([1000, 1100]), None).state
    result = process_frame(_frame([1090, 1200], start=2), state)
    assert [e["data"]["value"] for e in result.events] == [1090.0]


def test_a_state_like_current_without_energy_is_one_event_per_episode() -> None:
    def kinds(result: StepResult) -> list[str]:
        return [e["type"].split(".")[2] for e in result.events]

    stuck = _frame([1000, 1000, 1000])
    stuck.current_a[:] = 5.0  # 5 A for a quarter-hour and the register did not move
    first = process_frame(stuck, None)
    assert kinds(first) == ["current_without_energy"]
    still = _frame([1000, 1000], start=3)
    still.current_a[:] = 5.0
    second = process_frame(still, first.state)
    assert kinds(second) == []  # the same episode
    clean = process_frame(_frame([1100], start=5), second.state)  # moving again: closed
    assert kinds(clean) == []
    again = _frame([1100, 1100], start=6)
    again.current_a[:] = 5.0
    assert kinds(process_frame(again, clean.state)) == ["current_without_energy"]


def test_an_unusable_stored_state_starts_afresh_instead_of_crashing() -> None:
    result = process_frame(_frame([1000, 900]), {"version": 99, "garbage": True})
    assert [e["data"]["value"] for e in result.events] == [900.0]


def test_export_is_reverse_energy_only_on_a_meter_without_generation() -> None:
    miswired = _frame([1000, 1000, 1000, 1000])
    miswired.export_wh[:] = [0, 250, 500, 750]  # its consumption runs on the export register
    miswired.current_a[:] = -4.3
    consumer = frozenset({"000000000001"})
    first = process_frame(miswired, None, without_generation=consumer)
    assert [e["type"] for e in first.events] == ["meterwatch.meter.reverse_energy.v1"]
    assert first.events[0]["time"] == "2026-11-26T00:15:00Z"
    assert first.events[0]["data"]["value"] == 250.0
    more = _frame([1000, 1000], start=4)
    more.export_wh[:] = [1000, 1250]
    more.current_a[:] = -4.3
    assert process_frame(more, first.state, without_generation=consumer).events == []  # one episode
    assert process_frame(miswired, None).events == []  # generation not known: export is normal
