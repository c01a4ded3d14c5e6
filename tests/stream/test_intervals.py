from __future__ import annotations

import numpy as np
import pytest

from stream.intervals import AssemblerConfig, IntervalAssembler

DAY0 = 1_795_651_200  # 2026-11-26T00:00:00Z
CFG = AssemblerConfig(interval_s=900, block_intervals=4, snap_tolerance_s=60, grace_s=900)


def _feed(asm: IntervalAssembler, rows: list[tuple[str, int, float]]) -> None:
    meter, ts, reg = zip(*rows, strict=True)
    asm.update(np.array(meter), np.array(ts), np.array(reg))


def test_block_layout_is_exact() -> None:
    asm = IntervalAssembler("M", CFG)
    rows = []
    for k, (m, a) in enumerate([(0, 0), (10, 4), (25, 9), (30, 9), (50, 20)]):
        rows += [("M", DAY0 + 900 * k, float(m)), ("a", DAY0 + 900 * k + 5, float(a))]
    rows.append(("a", DAY0 + 900 * 5 + 900, 25.0))  # moves the data clock past end + grace
    _feed(asm, rows)
    (block,) = asm.ready
    assert block.start_ts == DAY0
    # boundary 0 (DAY0) is the block's start: it anchors but is before the first column
    np.testing.assert_array_equal(block.master_wh, [10, 15, 5, 20])
    np.testing.assert_array_equal(block.meters_wh[:, 0], [4, 5, 0, 11])


def test_a_gap_is_carried_by_the_next_reading_and_a_decrease_reanchors() -> None:
    asm = IntervalAssembler("M", CFG)
    rows = [("M", DAY0 + 900 * k, float(10 * k)) for k in range(5)]
    rows += [("a", DAY0 + 900, 100.0), ("a", DAY0 + 900 * 3, 130.0), ("a", DAY0 + 900 * 4, 120.0)]
    rows.append(("M", DAY0 + 900 * 6, 60.0))
    _feed(asm, rows)
    (block,) = asm.ready
    # read at boundaries 1, 3 (after a gap: carries 1..3) and 4 (backwards: not an increment)
    np.testing.assert_array_equal(block.meters_wh[:, 0], [np.nan, np.nan, 30, np.nan])


def test_late_readings_are_counted_and_state_survives_a_snapshot() -> None:
    asm = IntervalAssembler("M", CFG)
    rows = [("M", DAY0 + 900 * k, float(10 * k)) for k in range(7)]
    _feed(asm, rows)
    assert len(asm.ready) == 1
    _feed(asm, [("M", DAY0 + 900 * 2, 20.0)])
    assert asm.late_readings >= 1
    twin = IntervalAssembler.restore(asm.snapshot())
    more = [("M", DAY0 + 900 * k, float(10 * k)) for k in range(7, 11)]
    _feed(asm, more)
    _feed(twin, more)
    assert len(asm.ready) == len(twin.ready) == 1
    np.testing.assert_array_equal(asm.ready[0].master_wh, twin.ready[0].master_wh)
    np.testing.assert_array_equal(asm.ready[0].master_wh, [10, 10, 10, 10])


def test_mismatched_columns_are_refused() -> None:
    from meterwatch.errors import DetectorError

    with pytest.raises(DetectorError):
        IntervalAssembler("M", CFG).update(np.array(["M"]), np.array([1, 2]), np.array([1.0]))
