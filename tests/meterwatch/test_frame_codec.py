from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterwatch.domain import ReadingFrame
from meterwatch.errors import CodecError
from meterwatch.frame_codec import MAGIC, SCHEMA_VERSION, decode_frame, encode_frame

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=64)
floats = st.one_of(st.just(float("nan")), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def frames(draw: st.DrawFn) -> ReadingFrame:
    n = draw(st.integers(0, 50))
    ints = st.integers(0, 10**11)
    return ReadingFrame(
        utility=draw(ids),
        area=draw(ids),
        meter=np.array(
            [f"{draw(st.integers(0, 10**12 - 1)):012d}" for _ in range(n)], dtype="<U12"
        ),
        ts=np.array([draw(st.integers(946_684_800, 4_102_444_800)) for _ in range(n)], np.int64),
        import_wh=np.array([draw(ints) for _ in range(n)], dtype=np.int64),
        export_wh=np.array([draw(ints) for _ in range(n)], dtype=np.int64),
        voltage_v=np.array([draw(floats) for _ in range(n)], dtype=np.float64),
        current_a=np.array([draw(floats) for _ in range(n)], dtype=np.float64),
        flags=np.array([draw(st.integers(0, 2**31 - 1)) for _ in range(n)], dtype=np.int64),
    )


@given(frames())
def test_round_trip_is_exact(frame: ReadingFrame) -> None:
    assert decode_frame(encode_frame(frame)).equals(frame)


def test_leading_zeros_of_meter_ids_survive() -> None:
    frame = ReadingFrame.empty("u", "a")
    frame = ReadingFrame.concat([frame, _one("000000000042")])
    assert decode_frame(encode_frame(frame)).meter.tolist() == ["000000000042"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bad magic"),
        (b"JUNK\x01", "bad magic"),
        (MAGIC + bytes([SCHEMA_VERSION + 1]), "schema version 2"),
        (MAGIC + bytes([SCHEMA_VERSION]) + b"\xc1", "corrupt"),
    ],
)
def test_bad_frames_raise_codec_error(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_frame(data)


def test_truncated_column_is_detected() -> None:
    data = encode_frame(_one("000000000001"))
    with pytest.raises(CodecError):
        decode_frame(data[:-3])


def _one(meter: str) -> ReadingFrame:
    return ReadingFrame(
        "u", "a", np.array([meter]), np.array([1_800_000_000]), np.array([5]), np.array([0]),
        np.array([230.0]), np.array([np.nan]),
    )  # fmt: skip
