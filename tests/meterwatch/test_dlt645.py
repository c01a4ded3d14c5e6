"""DL/T 645-2007 codec and ``dlt645`` payload decoder: public vectors, properties, rejections."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterwatch.dlt645 import (
    DI_CURRENT_A,
    DI_DATE,
    DI_EXPORT_ENERGY,
    DI_IMPORT_ENERGY,
    DI_TIME,
    DI_VOLTAGE_A,
    IDENTIFIERS,
    READ_DATA,
    READ_ERROR_REPLY,
    READ_REPLY,
    READ_REPLY_MORE,
    Dlt645Reason,
    Dlt645Value,
    decode_dlt645_payload,
    decode_frame,
    encode_error_reply,
    encode_frame,
    encode_read_reply,
    encode_read_request,
)
from meterwatch.errors import CodecError, RejectedPayload
from meterwatch.payloads import Reason

# --- Test vectors from public sources --------------------------------------------------------
#
# [P1] "DL645通信协议97/07规约(附上下行例子)", https://553668.com/manong/786292.html
#      (same text at https://m.icode9.com/content-4-712469.html): read of total forward active
#      energy at address 0102030425, reply 1206.42 kWh.
# [P2] Ebyte IoT lab (亿佰特物联网实验室) DLT645 article,
#      https://mbb.eet-china.com/forum/topic/114707_1_1.html: a read of DI 00000000 (combined
#      active energy) and, with a 4-byte FE preamble, of DI 0201FF00 (voltage data block).
#      Neither identifier is in our table, so both replies must be refused as unknown.
# [P3] "合宙4G DTU+国网dlt645-2007协议抄表", https://luatdoc.papapoi.com/572: request with preamble
#      for meter 12345678.
# [U1] Address 000000000161: energy 000000.26 kWh, phase A 100.1 V and 004.999 A. The search
#      tool found these frames, with the decoded values, both in a web document titled
#      "DLT645-2007报文解析" and in a public Java source file, but gave neither a URL nor a
#      repository, so the source cannot be cited more precisely.
# [U2] Address 201000000012: date 2016-01-11 (weekday 1) and time 21:53:55, from a meter
#      simulator in a public source file; repository not given by the search tool.
# [U3] Error reply D1 with ERR = 02 (no requested data), address 000006605518, from a public
#      source file; repository not given by the search tool.
# For every vector we checked the checksum and the length byte independently of this codec.

P1_REQUEST = "68 25 04 03 02 01 00 68 11 04 33 33 34 33 E1 16"
P1_REPLY = "68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8B 16"
P2_REQUEST = "68 03 20 12 22 20 65 68 11 04 33 33 33 33 8D 16"
P2_REPLY_DI0 = "68 03 20 12 22 20 65 68 91 08 33 33 33 33 33 33 33 33 DD 16"
P2_REPLY_BLOCK = "FE FE FE FE 68 18 20 12 22 20 65 68 91 0A 33 32 34 35 33 33 33 33 C7 56 13 16"
P3_REQUEST = "FEFEFEFE6878563412000068110433333433C616"
U1_ENERGY = "68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16"
U1_VOLTAGE = "68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16"
U1_CURRENT = "68 61 01 00 00 00 00 68 91 07 33 34 35 35 CC 7C 33 16 16"
U2_DATE = "68 12 00 00 00 10 20 68 91 08 34 34 33 37 34 44 34 49 72 16"
U2_TIME = "68 12 00 00 00 10 20 68 91 07 35 34 33 37 88 86 54 DF 16"
U3_ERROR = "FE FE FE FE 68 18 55 60 06 00 00 68 D1 01 35 AA 16"

PUBLIC_REPLIES = [
    (P1_REPLY, "000102030425", DI_IMPORT_ENERGY, 1_206_420),
    (U1_ENERGY, "000000000161", DI_IMPORT_ENERGY, 260),
    (U1_VOLTAGE, "000000000161", DI_VOLTAGE_A, 100.1),
    (U1_CURRENT, "000000000161", DI_CURRENT_A, 4.999),
    (U2_DATE, "201000000012", DI_DATE, date(2016, 1, 11)),
    (U2_TIME, "201000000012", DI_TIME, time(21, 53, 55)),
]


def _raw(text: str) -> bytes:
    return bytes.fromhex(text)


def _reason(raw: bytes) -> str:
    with pytest.raises(RejectedPayload) as info:
        decode_frame(raw)
    return info.value.reason


def _payload(frames: Any, ts: Any = "2026-11-26T00:15:00Z") -> bytes:
    return json.dumps({"ts": ts, "frames": frames}).encode()


def _patched(frame: bytes, index: int, value: int) -> bytes:
    """``frame`` with one byte replaced and the checksum made right again."""
    out = bytearray(frame)
    out[index] = value
    out[-2] = sum(out[out.index(0x68) : -2]) & 0xFF
    return bytes(out)


@pytest.mark.parametrize(("hexframe", "address", "di", "value"), PUBLIC_REPLIES)
def test_public_replies_decode_to_their_published_values(
    hexframe: str, address: str, di: int, value: Dlt645Value
) -> None:
    frame = decode_frame(_raw(hexframe))
    assert (frame.address, frame.control, frame.di, frame.value) == (address, READ_REPLY, di, value)


@pytest.mark.parametrize(("hexframe", "address", "di", "value"), PUBLIC_REPLIES)
def test_public_replies_are_reencoded_byte_for_byte(
    hexframe: str, address: str, di: int, value: Dlt645Value
) -> None:
    assert encode_read_reply(address, di, value) == _raw(hexframe)


def test_public_requests_are_encoded_byte_for_byte() -> None:
    assert encode_read_request("000102030425", DI_IMPORT_ENERGY) == _raw(P1_REQUEST)
    assert encode_read_request("652022122003", 0x00000000) == _raw(P2_REQUEST)
    assert encode_read_request("000012345678", DI_IMPORT_ENERGY, preamble=4) == _raw(P3_REQUEST)


def test_public_request_decodes_with_its_identifier() -> None:
    frame = decode_frame(_raw(P3_REQUEST))
    assert (frame.address, frame.control, frame.di, frame.value) == (
        "000012345678",
        READ_DATA,
        DI_IMPORT_ENERGY,
        None,
    )


@pytest.mark.parametrize("hexframe", [P2_REPLY_DI0, P2_REPLY_BLOCK])
def test_public_replies_with_identifiers_outside_the_table_are_unknown(hexframe: str) -> None:
    assert _reason(_raw(hexframe)) == Dlt645Reason.UNKNOWN_IDENTIFIER


def test_public_error_reply_decodes_its_error_word() -> None:
    frame = decode_frame(_raw(U3_ERROR))
    assert frame.is_error_reply
    assert (frame.address, frame.control, frame.error_word) == ("000006605518", 0xD1, 0x02)
    assert frame.errors == ("no_requested_data",)
    assert encode_error_reply("000006605518", 0x02, preamble=4) == _raw(U3_ERROR)


# --- Property-based round trips -------------------------------------------------------------

addresses = st.text(alphabet="0123456789", min_size=12, max_size=12)
preambles = st.integers(0, 4)
VALUES: dict[int, st.SearchStrategy[Any]] = {
    DI_IMPORT_ENERGY: st.integers(0, 99_999_999).map(lambda n: n * 10),
    DI_EXPORT_ENERGY: st.integers(0, 99_999_999).map(lambda n: n * 10),
    DI_VOLTAGE_A: st.integers(0, 9_999).map(lambda n: n / 10),
    DI_CURRENT_A: st.integers(-799_999, 799_999).map(lambda n: n / 1000),
    DI_DATE: st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    DI_TIME: st.times().map(lambda t: t.replace(microsecond=0)),
}
readings = st.sampled_from(sorted(VALUES)).flatmap(lambda di: st.tuples(st.just(di), VALUES[di]))


@settings(max_examples=300)
@given(address=addresses, reading=readings, preamble=preambles)
def test_read_reply_round_trip(address: str, reading: tuple[int, Any], preamble: int) -> None:
    di, value = reading
    raw = encode_read_reply(address, di, value, preamble=preamble)
    assert raw[:preamble] == b"\xfe" * preamble
    frame = decode_frame(raw)
    assert (frame.address, frame.control, frame.di, frame.value) == (address, READ_REPLY, di, value)
    assert type(frame.value) is type(value)


@given(
    address=addresses,
    control=st.integers(0, 255).filter(
        lambda c: c not in (READ_REPLY, READ_REPLY_MORE) and c & 0xC0 != 0xC0
    ),
    data=st.binary(max_size=255),
    preamble=preambles,
)
def test_any_frame_round_trips_its_link_layer(
    address: str, control: int, data: bytes, preamble: int
) -> None:
    frame = decode_frame(encode_frame(address, control, data, preamble=preamble))
    assert (frame.address, frame.control, frame.data) == (address, control, data)


@given(address=addresses, reading=readings, data=st.data())
def test_any_single_byte_change_is_refused(
    address: str, reading: tuple[int, Any], data: st.DataObject
) -> None:
    raw = encode_read_reply(address, *reading)
    index = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    with pytest.raises(RejectedPayload):
        decode_frame(raw[:index] + bytes([new]) + raw[index + 1 :])


meter_values = st.fixed_dictionaries(
    {DI_IMPORT_ENERGY: VALUES[DI_IMPORT_ENERGY]},
    optional={di: VALUES[di] for di in VALUES if di != DI_IMPORT_ENERGY},
)


@settings(max_examples=50)
@given(
    meters=st.dictionaries(addresses, meter_values, max_size=8),
    preamble=preambles,
    shuffle=st.randoms(use_true_random=False),
)
def test_payload_round_trip(meters: dict[str, dict[int, Any]], preamble: int, shuffle: Any) -> None:
    frames = [
        encode_read_reply(address, di, value, preamble=preamble).hex(" ")
        for address, values in meters.items()
        for di, value in values.items()
    ]
    shuffle.shuffle(frames)
    batch = decode_dlt645_payload(_payload(frames))
    assert batch.rejections == ()
    decoded = {r.meter: r for r in batch.readings}
    assert decoded.keys() == meters.keys()
    for address, values in meters.items():
        reading = decoded[address]
        assert reading.import_wh == values[DI_IMPORT_ENERGY]
        assert reading.export_wh == values.get(DI_EXPORT_ENERGY)
        assert reading.voltage_v == values.get(DI_VOLTAGE_A)
        assert reading.current_a == values.get(DI_CURRENT_A)
        if DI_DATE in values and DI_TIME in values:
            clock = datetime.combine(values[DI_DATE], values[DI_TIME], tzinfo=UTC)
            assert (reading.ts, reading.meter_clock) == (clock, True)
        else:
            assert (reading.ts, reading.meter_clock) == (batch.ts, False)


# --- Encoding details -----------------------------------------------------------------------


def test_energy_is_truncated_to_the_register_resolution() -> None:
    frame = decode_frame(encode_read_reply("000000000001", DI_IMPORT_ENERGY, 123_456_789))
    assert frame.value == 123_456_780


def test_negative_current_sets_the_sign_bit() -> None:
    raw = encode_read_reply("000000000161", DI_CURRENT_A, -4.999)
    assert raw[-3] == 0x80 + 0x33  # most significant value byte: 00H with the sign bit, +33H
    assert decode_frame(raw).value == -4.999


def test_weekday_is_zero_on_sunday() -> None:
    raw = encode_read_reply("000000000001", DI_DATE, date(2026, 11, 29))  # a Sunday
    assert decode_frame(raw).data[4] == 0


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (encode_frame, ("00000000001", READ_DATA, b"")),
        (encode_frame, ("00000000000x", READ_DATA, b"")),
        (encode_frame, ("000000000001", 256, b"")),
        (encode_frame, ("000000000001", READ_DATA, bytes(256))),
        (encode_read_request, ("000000000001", 1 << 32)),
        (encode_read_reply, ("000000000001", 0x00000000, 0)),
        (encode_read_reply, ("000000000001", DI_IMPORT_ENERGY, -10)),
        (encode_read_reply, ("000000000001", DI_IMPORT_ENERGY, 1.5)),
        (encode_read_reply, ("000000000001", DI_IMPORT_ENERGY, True)),
        (encode_read_reply, ("000000000001", DI_IMPORT_ENERGY, 1_000_000_000)),
        (encode_read_reply, ("000000000001", DI_VOLTAGE_A, 1000.0)),
        (encode_read_reply, ("000000000001", DI_VOLTAGE_A, -1.0)),
        (encode_read_reply, ("000000000001", DI_VOLTAGE_A, math.nan)),
        (encode_read_reply, ("000000000001", DI_CURRENT_A, 800.0)),
        (encode_read_reply, ("000000000001", DI_DATE, datetime(2026, 1, 1))),
        (encode_read_reply, ("000000000001", DI_DATE, date(2100, 1, 1))),
        (encode_read_reply, ("000000000001", DI_TIME, 0)),
        (encode_error_reply, ("000000000001", 256)),
    ],
)
def test_values_that_cannot_be_sent_raise_codec_error(call: Any, args: tuple[Any, ...]) -> None:
    with pytest.raises(CodecError):
        call(*args)


def test_preamble_longer_than_four_bytes_cannot_be_encoded() -> None:
    with pytest.raises(CodecError):
        encode_read_request("000000000001", DI_IMPORT_ENERGY, preamble=5)


def test_identifier_table_covers_the_named_identifiers() -> None:
    named = (DI_IMPORT_ENERGY, DI_EXPORT_ENERGY, DI_VOLTAGE_A, DI_CURRENT_A, DI_DATE, DI_TIME)
    assert set(named) <= set(IDENTIFIERS)
    fields = [IDENTIFIERS[di].reading_field for di in IDENTIFIERS]
    assert len(fields) == len(set(fields))
    assert {IDENTIFIERS[di].kind for di in IDENTIFIERS} <= {
        "unsigned_bcd",
        "signed_bcd",
        "date_week",
        "time_hms",
    }


def test_reason_constants_are_distinct_snake_case_strings() -> None:
    values = [reason.value for reason in Dlt645Reason]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", v) for v in values)


# --- Every frame rejection reason -----------------------------------------------------------

GOOD = encode_read_reply("000000000161", DI_VOLTAGE_A, 230.1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", Dlt645Reason.TRUNCATED_FRAME),
        (b"\xfe\xfe", Dlt645Reason.TRUNCATED_FRAME),
        (GOOD[:9], Dlt645Reason.TRUNCATED_FRAME),
        (GOOD[:-1], Dlt645Reason.TRUNCATED_FRAME),
        (b"\xfe" * 5 + GOOD, Dlt645Reason.BAD_START),
        (b"\x00" + GOOD, Dlt645Reason.BAD_START),
        (_patched(GOOD, 7, 0x69), Dlt645Reason.BAD_START),
        (GOOD + b"\x16", Dlt645Reason.TRAILING_BYTES),
        (GOOD[:-1] + b"\x17", Dlt645Reason.BAD_END),
        (GOOD[:-2] + bytes([(GOOD[-2] + 1) & 0xFF]) + GOOD[-1:], Dlt645Reason.BAD_CHECKSUM),
        (_patched(GOOD, 1, 0x6A), Dlt645Reason.BAD_BCD),  # address digit A
        (_patched(GOOD, 14, 0x0A + 0x33), Dlt645Reason.BAD_BCD),  # value digit A
        (encode_frame("000000000161", READ_REPLY, b"\x00\x01"), Dlt645Reason.BAD_LENGTH),
        (
            encode_frame("000000000161", READ_REPLY, bytes.fromhex("00000100") + bytes(3)),
            Dlt645Reason.BAD_LENGTH,  # energy in 3 bytes instead of 4
        ),
        (encode_frame("000000000161", READ_ERROR_REPLY, b"\x02\x00"), Dlt645Reason.BAD_LENGTH),
        (
            encode_frame(
                "000000000161", READ_REPLY, bytes.fromhex("01010004") + b"\x00\x01\x13\x26"
            ),
            Dlt645Reason.BAD_VALUE,  # month 13
        ),
        (
            encode_frame(
                "000000000161", READ_REPLY, bytes.fromhex("01010004") + b"\x07\x01\x01\x26"
            ),
            Dlt645Reason.BAD_VALUE,  # weekday 7
        ),
        (
            encode_frame("000000000161", READ_REPLY, bytes.fromhex("02010004") + b"\x00\x00\x24"),
            Dlt645Reason.BAD_VALUE,  # hour 24
        ),
        (encode_frame("000000000161", READ_REPLY, bytes(4)), Dlt645Reason.UNKNOWN_IDENTIFIER),
    ],
)
def test_frame_rejections(raw: bytes, reason: Dlt645Reason) -> None:
    assert _reason(raw) == reason


def test_reply_with_more_to_follow_decodes_like_a_normal_reply() -> None:
    data = GOOD[10:-2]
    more = encode_frame("000000000161", READ_REPLY_MORE, bytes((b - 0x33) & 0xFF for b in data))
    assert decode_frame(more).value == 230.1


# --- The dlt645 payload ---------------------------------------------------------------------


def test_one_bad_frame_does_not_reject_the_good_ones() -> None:
    bad_checksum = P1_REPLY[:-5] + "00 16"
    batch = decode_dlt645_payload(_payload([U1_ENERGY, bad_checksum, U1_VOLTAGE, U1_CURRENT]))
    assert [(r.meter, r.import_wh, r.voltage_v, r.current_a) for r in batch.readings] == [
        ("000000000161", 260, 100.1, 4.999)
    ]
    assert [(e.reason, e.detail.split(":")[0]) for e in batch.rejections] == [
        (Dlt645Reason.BAD_CHECKSUM, "frames[1]")
    ]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not hex", Dlt645Reason.BAD_HEX),
        (12, Dlt645Reason.BAD_HEX),
        (U3_ERROR, Dlt645Reason.ERROR_REPLY),
        (P1_REQUEST, Dlt645Reason.UNSUPPORTED_CONTROL),
        (P2_REPLY_BLOCK, Dlt645Reason.UNKNOWN_IDENTIFIER),
        (P1_REPLY[:-6], Dlt645Reason.TRUNCATED_FRAME),
        (U1_ENERGY, Dlt645Reason.DUPLICATE_IDENTIFIER),
    ],
)
def test_payload_frame_rejections(frame: Any, reason: Dlt645Reason) -> None:
    batch = decode_dlt645_payload(_payload([U1_ENERGY, frame]))
    assert [r.meter for r in batch.readings] == ["000000000161"]
    assert [e.reason for e in batch.rejections] == [reason]
    assert batch.rejections[0].detail.startswith("frames[1]: ")


def test_error_reply_names_the_error_bits() -> None:
    batch = decode_dlt645_payload(_payload([U3_ERROR]))
    assert "no_requested_data" in batch.rejections[0].detail


def test_meter_without_energy_is_refused_with_its_reason() -> None:
    batch = decode_dlt645_payload(_payload([U1_VOLTAGE, U2_DATE, U2_TIME, P1_REPLY]))
    assert [r.meter for r in batch.readings] == ["000102030425"]
    assert sorted(e.reason for e in batch.rejections) == [Dlt645Reason.MISSING_ENERGY] * 2


def test_meter_clock_is_read_in_the_given_zone() -> None:
    energy = encode_read_reply("201000000012", DI_IMPORT_ENERGY, 5_000).hex()
    beijing = timezone(timedelta(hours=8))
    batch = decode_dlt645_payload(_payload([energy, U2_DATE, U2_TIME]), meter_clock_tz=beijing)
    (reading,) = batch.readings
    assert reading.meter_clock
    assert reading.ts == datetime(2016, 1, 11, 13, 53, 55, tzinfo=UTC)


def test_half_a_meter_clock_falls_back_to_the_payload_time() -> None:
    energy = encode_read_reply("201000000012", DI_IMPORT_ENERGY, 5_000).hex()
    batch = decode_dlt645_payload(_payload([energy, U2_DATE], ts="2026-11-26T08:15:00+08:00"))
    (reading,) = batch.readings
    assert (reading.ts, reading.meter_clock) == (datetime(2026, 11, 26, 0, 15, tzinfo=UTC), False)


def test_batch_to_frame_fills_missing_columns() -> None:
    batch = decode_dlt645_payload(_payload([U1_ENERGY, U1_VOLTAGE, P1_REPLY]))
    frame = batch.to_frame("u1", "a1")
    assert list(frame.meter) == ["000000000161", "000102030425"]
    assert list(frame.import_wh) == [260, 1_206_420]
    assert list(frame.export_wh) == [0, 0]
    assert frame.voltage_v[0] == 100.1 and math.isnan(frame.voltage_v[1])
    assert all(math.isnan(a) for a in frame.current_a)
    assert list(frame.ts) == [int(datetime(2026, 11, 26, 0, 15, tzinfo=UTC).timestamp())] * 2


def test_empty_frame_list_gives_an_empty_batch() -> None:
    batch = decode_dlt645_payload(_payload([]))
    assert (batch.readings, batch.rejections, len(batch.to_frame("u", "a"))) == ((), (), 0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", Dlt645Reason.NOT_UTF8),
        (b"{not json", Dlt645Reason.NOT_JSON),
        (b"[]", Dlt645Reason.BAD_SCHEMA),
        (json.dumps({"ts": "2026-11-26T00:15:00Z"}).encode(), Dlt645Reason.BAD_SCHEMA),
        (_payload("68"), Dlt645Reason.BAD_SCHEMA),
        (json.dumps({"frames": []}).encode(), Dlt645Reason.BAD_TIMESTAMP),
        (_payload([], ts="2026-11-26T00:15:00"), Dlt645Reason.BAD_TIMESTAMP),
        (_payload([], ts="yesterday"), Dlt645Reason.BAD_TIMESTAMP),
        (_payload([], ts=10**20), Dlt645Reason.BAD_TIMESTAMP),
    ],
)
def test_payload_rejections(payload: bytes, reason: Dlt645Reason) -> None:
    with pytest.raises(RejectedPayload) as info:
        decode_dlt645_payload(payload)
    assert info.value.reason == reason


def test_payload_over_a_limit_is_oversized() -> None:
    payload = _payload([U1_ENERGY] * 3)
    with pytest.raises(RejectedPayload) as too_many:
        decode_dlt645_payload(payload, max_frames=2)
    with pytest.raises(RejectedPayload) as too_big:
        decode_dlt645_payload(payload, max_bytes=len(payload) - 1)
    assert too_many.value.reason == too_big.value.reason == Dlt645Reason.OVERSIZED
    assert len(decode_dlt645_payload(payload, max_frames=3, max_bytes=len(payload)).readings) == 1


def test_payload_reasons_use_the_strings_of_the_json_decoder() -> None:
    shared = ("OVERSIZED", "NOT_UTF8", "NOT_JSON", "BAD_SCHEMA", "BAD_TIMESTAMP")
    assert [Dlt645Reason[name].value for name in shared] == [Reason[n].value for n in shared]


def test_payload_ts_may_be_epoch_seconds() -> None:
    batch = decode_dlt645_payload(_payload([U1_ENERGY], ts=1_795_652_100))
    assert batch.ts == datetime(2026, 11, 26, 0, 15, tzinfo=UTC)
