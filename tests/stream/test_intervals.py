from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_readings_ahead_of_the_open_block_wait_for_it() -> None:
    asm = IntervalAssembler("M", AssemblerConfig(900, 4, 60, grace_s=1_800))
    _feed(asm, [("M", DAY0 + 900 * k, float(10 * k)) for k in range(5)])  # block 0 still open
    _feed(asm, [("M", DAY0 + 900 * 5, 55.0)])  # block 1's first boundary, within the grace
    twin = IntervalAssembler.restore(asm.snapshot())  # held readings survive a restart
    for a in (asm, twin):
        _feed(a, [("M", DAY0 + 900 * k, float(10 * k + 15)) for k in range(6, 11)])
        assert [b.start_ts for b in a.ready] == [DAY0, DAY0 + 3_600]
        np.testing.assert_array_equal(a.ready[1].master_wh, [15, 20, 10, 10])
    assert asm.late_readings == 0


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 120), max_size=12),
    missing=st.lists(st.integers(0, 119), max_size=20),
    seed=st.integers(0, 2**16),
)
def test_blocks_do_not_depend_on_how_time_ordered_readings_are_cut_into_frames(
    cuts: list[int], missing: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    steps = 40  # ten blocks of four intervals
    rows = []
    for m, rate in (("M", 30.0), ("a", 10.0), ("b", 20.0)):
        regs = np.cumsum(rng.poisson(rate, steps))
        rows += [(m, DAY0 + 900 * k + int(rng.integers(-30, 31)), float(r))
                 for k, r in enumerate(regs)]  # fmt: skip
    rows = [r for i, r in enumerate(sorted(rows, key=lambda r: r[1])) if i not in set(missing)]
    whole, pieces = IntervalAssembler("M", CFG), IntervalAssembler("M", CFG)
    _feed(whole, rows)
    closed = []
    for lo, hi in pairwise([0, *sorted(c for c in cuts if c < len(rows)), len(rows)]):
        if hi > lo:
            _feed(pieces, rows[lo:hi])
            closed += pieces.ready
    assert [b.start_ts for b in closed] == [b.start_ts for b in whole.ready]
    for got, want in zip(closed, whole.ready, strict=True):
        np.testing.assert_array_equal(got.master_wh, want.master_wh)
        for meter in want.meter_ids:  # column order follows arrival, which the cut changes
            np.testing.assert_array_equal(
                got.meters_wh[:, got.meter_ids.index(meter)],
                want.meters_wh[:, want.meter_ids.index(meter)],
            )
    assert pieces.late_readings == whole.late_readings == 0
