from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterwatch.errors import RejectedPayload
from meterwatch.payloads import (
    PayloadLimits,
    Reason,
    decode_json_v1,
    decode_payload,
    parse_topic,
)
from simulators.demo_fleet import bad_payloads

NOW = 1_795_653_600  # 2026-11-26T00:40:00Z
TOPIC = "meters/u1/a1/d1/json"


def _payload(*readings: dict[str, object], device: str = "d1") -> bytes:
    return json.dumps({"v": 1, "device": device, "readings": list(readings)}).encode()


def _reading(**overrides: object) -> dict[str, object]:
    return {
        "meter": "000012345678",
        "ts": "2026-11-26T00:15:00Z",
        "import_wh": 123456789,
        "export_wh": 0,
        "voltage_v": 229.8,
        "current_a": 3.2,
        "flags": 0,
    } | overrides


def test_good_payload_decodes_to_columns() -> None:
    frame, letters = decode_payload(
        TOPIC, _payload(_reading(), _reading(meter="000000000001")), NOW
    )
    assert letters == []
    assert frame is not None
    assert (frame.utility, frame.area) == ("u1", "a1")
    assert frame.meter.tolist() == ["000012345678", "000000000001"]
    assert frame.ts.tolist() == [1_795_652_100, 1_795_652_100]
    assert frame.import_wh.tolist() == [123456789, 123456789]
    assert frame.voltage_v.tolist() == [229.8, 229.8]


def test_optional_fields_default_and_offsets_are_honoured() -> None:
    reading = {"meter": "000000000007", "ts": "2026-11-26T08:15:00+08:00", "import_wh": 5}
    frame, letters = decode_payload(TOPIC, _payload(reading), NOW)
    assert letters == [] and frame is not None
    assert frame.ts.tolist() == [1_795_652_100]
    assert frame.export_wh.tolist() == [0]
    assert np.isnan(frame.voltage_v).all() and np.isnan(frame.current_a).all()


@pytest.mark.parametrize(("topic", "payload", "reason"), bad_payloads())
def test_every_bad_input_case_has_its_reason(topic: str, payload: bytes, reason: str) -> None:
    frame, letters = decode_payload(topic, payload, NOW)
    assert frame is None
    assert [letter.reason for letter in letters] == [reason]
    headers = dict(letters[0].headers())
    assert headers["reason"] == reason.encode()
    assert headers["source_topic"] == topic.encode()
    assert headers["received_at"] == b"2026-11-26T00:40:00+00:00"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[1,2]", Reason.BAD_SCHEMA),
        (json.dumps({"v": "1", "device": "d1", "readings": []}).encode(), Reason.BAD_SCHEMA),
        (json.dumps({"v": 2, "device": "d1", "readings": []}).encode(), Reason.UNSUPPORTED_VERSION),
        (_payload(_reading(), device="other"), Reason.DEVICE_MISMATCH),
        (json.dumps({"v": 1, "device": "d1", "readings": []}).encode(), Reason.BAD_SCHEMA),
    ],
)
def test_whole_payload_rejections(payload: bytes, reason: Reason) -> None:
    with pytest.raises(RejectedPayload) as info:
        decode_json_v1(parse_topic(TOPIC), payload, NOW)
    assert info.value.reason == reason


def test_too_many_readings_is_oversized() -> None:
    limits = PayloadLimits(max_readings=2)
    with pytest.raises(RejectedPayload) as info:
        decode_json_v1(parse_topic(TOPIC), _payload(*[_reading()] * 3), NOW, limits)
    assert info.value.reason == Reason.OVERSIZED


def test_bad_readings_are_cut_out_and_the_good_ones_kept() -> None:
    readings = [
        _reading(meter="000000000001"),
        _reading(meter="1"),
        _reading(import_wh=-4),
        _reading(ts="yesterday"),
        _reading(ts="1999-12-31T23:59:59Z"),
        _reading(current_a=True),
        "not an object",
        _reading(meter="000000000002", import_wh=2.0),
        _reading(import_wh=2.5),
    ]
    frame, letters = decode_payload(TOPIC, _payload(*readings), NOW)
    assert frame is not None
    assert frame.meter.tolist() == ["000000000001", "000000000002"]
    by_reason = {letter.reason: letter.indices for letter in letters}
    assert by_reason == {
        "bad_schema": (5, 6, 8),
        "bad_meter_id": (1,),
        "bad_timestamp": (3, 4),
        "negative_value": (2,),
    }


@given(st.binary(max_size=300), st.text(max_size=40))
def test_decoder_never_raises_on_garbage(payload: bytes, topic: str) -> None:
    frame, letters = decode_payload(topic, payload, NOW)
    assert frame is not None or letters


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "meter": st.one_of(st.from_regex(r"\A[0-9]{12}\Z"), st.text(max_size=14)),
                "ts": st.one_of(st.integers(0, 2 * NOW), st.text(max_size=25)),
                "import_wh": st.one_of(st.integers(-10, 10**12), st.floats(), st.none()),
                "voltage_v": st.one_of(st.floats(), st.none(), st.booleans()),
            }
        ),
        min_size=1,
        max_size=20,
    )
)
def test_every_reading_is_either_kept_or_dead_lettered(readings: list[dict[str, object]]) -> None:
    frame, letters = decode_payload(TOPIC, _payload(*readings), NOW)
    rejected = sorted(i for letter in letters for i in letter.indices)
    kept = len(frame) if frame is not None else 0
    assert kept + len(rejected) == len(readings)
    assert len(set(rejected)) == len(rejected)


def _dlt645_payload(*frames: bytes) -> bytes:
    return json.dumps({"ts": "2026-11-26T00:15:00Z", "frames": [f.hex() for f in frames]}).encode()


def test_dlt645_payload_through_the_common_decoder() -> None:
    from meterwatch.dlt645 import DI_IMPORT_ENERGY, DI_VOLTAGE_A, encode_read_reply

    energy = encode_read_reply("000012345678", DI_IMPORT_ENERGY, 123456780, preamble=4)
    voltage = encode_read_reply("000012345678", DI_VOLTAGE_A, 229.8)
    broken = bytearray(encode_read_reply("000000000009", DI_IMPORT_ENERGY, 10))
    broken[-2] ^= 0xFF  # the checksum
    frame, letters = decode_payload(
        "meters/u1/a1/d1/dlt645", _dlt645_payload(energy, voltage, bytes(broken)), NOW
    )
    assert frame is not None
    assert frame.meter.tolist() == ["000012345678"]
    assert frame.import_wh.tolist() == [123456780]
    assert frame.voltage_v.tolist() == [229.8]
    assert frame.ts.tolist() == [1_795_652_100]
    assert [letter.reason for letter in letters] == ["bad_checksum"]


def test_dlt645_readings_from_the_future_are_refused() -> None:
    from meterwatch.dlt645 import DI_IMPORT_ENERGY, encode_read_reply

    energy = encode_read_reply("000012345678", DI_IMPORT_ENERGY, 1000)
    payload = json.dumps({"ts": "2099-01-01T00:00:00Z", "frames": [energy.hex()]}).encode()
    frame, letters = decode_payload("meters/u1/a1/d1/dlt645", payload, NOW)
    assert frame is None
    assert [letter.reason for letter in letters] == ["future_timestamp"]
