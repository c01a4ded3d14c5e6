"""Simulated MQTT payloads: the bridge's decoder accepts all of them and reads back the truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from meterwatch.dlt645 import (
    DI_CURRENT_A,
    DI_DATE,
    DI_EXPORT_ENERGY,
    DI_IMPORT_ENERGY,
    DI_TIME,
    DI_VOLTAGE_A,
    encode_read_reply,
)
from meterwatch.payloads import decode_payload
from simulators.faults import FaultSpec
from simulators.fleet import FleetSpec, build_fleet
from simulators.metrology import MetrologySpec, draw_errors
from simulators.payload_stream import (
    _bcd,
    _current,
    _date,
    _energy,
    _time,
    fleet_messages,
    message_count,
    reply_frames,
)
from simulators.readings import FleetRun, iter_areas

SPEC = FleetSpec(
    utilities=2,
    areas_per_utility=1,
    meters_per_area=40,
    days=1,
    direct_fraction=0.1,
    dlt645_fraction=0.5,
    concentrator_capacity=16,
)
NOW = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def run() -> FleetRun:
    fleet = build_fleet(SPEC)
    errors = draw_errors(fleet, MetrologySpec())
    faults = FaultSpec(clock_skew=0.2, comm_gap=0.1)
    return FleetRun(fleet, errors, tuple(iter_areas(fleet, errors, faults)))


def test_vectorised_frames_equal_the_codec_byte_for_byte() -> None:
    rng = np.random.default_rng(1)
    meters = np.array([f"{m:012d}" for m in rng.integers(0, 10**12, 50)])
    wh = rng.integers(0, 10**9, 50)
    volts = np.round(rng.uniform(0, 400, 50), 1)
    amps = np.round(rng.uniform(-700, 700, 50), 3)
    amps[:3] = [0.0, -0.0004, 0.0004]
    ts = rng.integers(946_684_800, 4_102_444_799, 50)
    cases = [
        (DI_IMPORT_ENERGY, _energy(wh), wh.tolist()),
        (DI_EXPORT_ENERGY, _energy(wh), wh.tolist()),
        (DI_VOLTAGE_A, _bcd(np.round(volts * 10).astype(np.int64), 2), volts.tolist()),
        (DI_CURRENT_A, _current(amps), amps.tolist()),
        (DI_DATE, _date(ts), [datetime.fromtimestamp(t, UTC).date() for t in ts.tolist()]),
        (DI_TIME, _time(ts), [datetime.fromtimestamp(t, UTC).time() for t in ts.tolist()]),
    ]
    for di, values, python_values in cases:
        ours = reply_frames(meters, di, values)
        theirs = [
            encode_read_reply(m, di, v).hex() for m, v in zip(meters, python_values, strict=True)
        ]
        assert ours == theirs, hex(di)


def test_every_payload_decodes_without_rejection_and_carries_the_readings(run: FleetRun) -> None:
    messages = list(fleet_messages(run))
    assert len(messages) == message_count(run)
    assert [m.publish_s for m in messages] == sorted(m.publish_s for m in messages)
    got = {}
    formats = Counter()
    for m in messages:
        frame, letters = decode_payload(m.topic, m.payload, NOW)
        assert letters == [] and frame is not None and len(frame) == m.readings
        formats[m.topic.rsplit("/", 1)[1]] += 1
        for i in range(len(frame)):
            got[str(frame.meter[i]), int(frame.ts[i])] = (
                int(frame.import_wh[i]), int(frame.export_wh[i]),
                float(frame.voltage_v[i]), float(frame.current_a[i]),
            )  # fmt: skip
    assert set(formats) == {"json", "dlt645"}
    expected = {}
    for a in run.areas:
        k, j = np.nonzero(a.present)
        ts = a.ts[k] + a.ts_offset_s[k, j]
        for meter, t, imp, exp, v, c in zip(
            a.meter_id[j].tolist(),
            ts.tolist(),
            a.import_wh[k, j].tolist(),
            a.export_wh[k, j].tolist(),
            a.voltage_v[k, j].tolist(),
            a.current_a[k, j].tolist(),
            strict=True,
        ):
            expected[meter, t] = (imp, exp, round(v, 1), round(c, 3))
    assert got.keys() == expected.keys()
    assert all(got[key][:2] == expected[key][:2] for key in expected)
    assert np.allclose([got[k][2:] for k in expected], [expected[k][2:] for k in expected])


def test_concentrators_batch_and_direct_meters_send_alone(run: FleetRun) -> None:
    fleet = run.fleet
    direct = set(fleet.device_id[fleet.device_direct].tolist())
    first_boundary = [m for m in fleet_messages(run) if m.publish_s < SPEC.start_s + 60]
    assert len(first_boundary) == fleet.device_id.size
    for m in first_boundary:
        device = m.topic.split("/")[3]
        members = int((fleet.device_id[fleet.device_index] == device).sum())
        assert m.readings == (1 if device in direct else members)
        assert SPEC.start_s <= m.publish_s <= SPEC.start_s + 5.0
