from __future__ import annotations

from ingest.batcher import AreaBatcher
from meterwatch.payloads import PayloadLimits
from simulators.demo_fleet import DemoFleet, bad_payloads

NOW = 1_800_000_000


def test_messages_are_grouped_into_one_frame_per_area() -> None:
    fleet = DemoFleet(utilities=1, areas_per_utility=2, devices_per_area=2, intervals=3)
    batcher = AreaBatcher(PayloadLimits())
    for mid, (topic, payload) in enumerate(fleet.payloads(), start=1):
        batcher.add(topic, payload, NOW, mid, 1)
    batch = batcher.drain()
    assert batch.messages == 12
    assert sorted(f.area for f in batch.frames) == ["area-1-1", "area-1-2"]
    assert batch.readings == fleet.readings == 600
    assert batch.acks == [(mid, 1) for mid in range(1, 13)]
    assert batch.dead_letters == []
    assert len(batcher) == 0 and batcher.drain().messages == 0


def test_bad_messages_become_dead_letters_but_are_still_acknowledged() -> None:
    batcher = AreaBatcher(PayloadLimits())
    for mid, (topic, payload, _) in enumerate(bad_payloads(), start=1):
        batcher.add(topic, payload, NOW, mid, 1)
    batch = batcher.drain()
    assert batch.frames == []
    assert [d.reason for d in batch.dead_letters] == [r for _, _, r in bad_payloads()]
    assert len(batch.acks) == len(bad_payloads())


def test_large_areas_are_split_into_bounded_frames() -> None:
    fleet = DemoFleet(utilities=1, areas_per_utility=1, devices_per_area=1, intervals=5)
    batcher = AreaBatcher(PayloadLimits(), max_frame_readings=120)
    for mid, (topic, payload) in enumerate(fleet.payloads(), start=1):
        batcher.add(topic, payload, NOW, mid, 1)
    sizes = [len(f) for f in batcher.drain().frames]
    assert sizes == [120, 120, 10]
