from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.intervals import AssemblerConfig, IntervalAssembler

DAY0 = 1_795_651_200  # 2026-11-26T00:00:00Z
CFG = AssemblerConfig(interval_s=900, block_intervals=4, snap_tolerance_s=60, grace_s=900)
SKEWED = AssemblerConfig(900, 4, 60, grace_s=900, offset_min_readings=3, offset_spread_s=10.0)


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
    for m, rate in (("M", 30.0), ("a", 10.0), ("b", 20.0), ("c", 15.0)):
        regs = np.cumsum(rng.poisson(rate, steps))
        skew = [400 * (m == "c" and k >= 10) for k in range(steps)]  # c's clock goes off
        rows += [(m, DAY0 + 900 * k + skew[k] + int(rng.integers(-5, 6)), float(r))
                 for k, r in enumerate(regs)]  # fmt: skip
    rows = [r for i, r in enumerate(sorted(rows, key=lambda r: r[1])) if i not in set(missing)]
    whole, pieces = IntervalAssembler("M", SKEWED), IntervalAssembler("M", SKEWED)
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
    assert pieces.clock_offsets_s == whole.clock_offsets_s


def test_a_meter_whose_clock_is_off_is_read_on_the_grid_once_its_offset_is_learned() -> None:
    asm = IntervalAssembler("M", SKEWED)
    rows = [("M", DAY0 + 900 * k, float(10 * k)) for k in range(13)]
    rows += [("a", DAY0 + 900 * k + 400 + k % 3, float(5 * k)) for k in range(13)]  # ~400 s late
    _feed(asm, rows[:9] + rows[13:22])  # closes block 0, which teaches the offset
    (first,) = asm.ready
    assert asm.clock_offsets_s == {"a": 401.0}
    twin = IntervalAssembler.restore(asm.snapshot())
    for a in (asm, twin):
        _feed(a, rows[9:13] + rows[22:])
    # no reading of "a" snapped in block 0; block 1 reads it on the grid (its first reading
    # there anchors it)
    np.testing.assert_array_equal(first.meters_wh[:, 0], [np.nan] * 4)
    for a in (asm, twin):
        np.testing.assert_array_equal(a.ready[0].meters_wh[:, 0], [np.nan, 5, 5, 5])
    assert asm.late_readings == twin.late_readings == 0


def test_readings_off_the_grid_by_no_common_amount_teach_no_offset() -> None:
    asm = IntervalAssembler("M", SKEWED)
    rows = [("M", DAY0 + 900 * k, float(10 * k)) for k in range(10)]
    rows += [("a", DAY0 + 900 * k + (200 if k % 2 else 300), float(5 * k)) for k in range(10)]
    _feed(asm, sorted(rows, key=lambda r: r[1]))
    assert len(asm.ready) == 2 and asm.clock_offsets_s == {}


def _skewed_rows(skew: int, boundaries: int) -> list[tuple[str, int, float]]:
    """The master on time; "a" 664 s slow or the like, its register at true boundary k being
    1000 + 10·k² (so each interval's increment tells which interval it is)."""
    rows = [("M", DAY0 + 900 * k, float(30 * k)) for k in range(boundaries)]
    rows += [("a", DAY0 + 900 * k + skew, 1000.0 + 10 * k * k) for k in range(1, boundaries)]
    return sorted(rows, key=lambda r: r[1])


@pytest.mark.parametrize("cut_s", [5 * 900, 8 * 900 + 300])
def test_a_clock_shift_moves_the_open_block_as_if_it_had_held_all_along(cut_s: int) -> None:
    """ "a" is 664 s slow: learned as +236 s, it lands one boundary early until moved. The move
    is made when block 0 closes, by a frame that brought either just the closing reading
    (``cut_s`` 5·900) or most of block 1 too (8·900 + 300, with "a"'s reading of boundary 9
    already placed at 8, so the move pushes it into the next block). Both give the same
    blocks, and from there on "a"'s increments are its true ones."""
    rows = _skewed_rows(-664, 14)
    asm = IntervalAssembler("M", SKEWED)
    first = [r for r in rows if r[1] <= DAY0 + cut_s]
    _feed(asm, first)
    (block0,) = asm.ready
    assert asm.clock_offsets_s == {"a": 236.0}
    asm.shift_clock("a", 1)
    assert asm.clock_offsets_s == {"a": -664.0}
    _feed(asm, [r for r in rows if r[1] > DAY0 + cut_s])
    blocks = asm.ready
    assert len(blocks) == 2
    np.testing.assert_array_equal(block0.meters_wh[:, 0], [np.nan] * 4)  # not learned yet
    true = np.diff(1000.0 + 10 * np.arange(13) ** 2)
    # its reading of boundary 5 came (as 3836 s) while block 0 was open, before the offset
    # was learned, and was lost: boundary 6's anchors it, and the increments that follow are
    # exact
    np.testing.assert_array_equal(blocks[0].meters_wh[:, 0], [np.nan, np.nan, true[6], true[7]])
    np.testing.assert_array_equal(blocks[1].meters_wh[:, 0], true[8:12])
    assert asm.late_readings == 0


def test_a_clock_shift_back_makes_the_first_register_late() -> None:
    """ "a" is 785 s fast: with the usual 120 s snap it lands one boundary late, and the
    offset learned is −115 s. Moved one earlier, its register placed at the open block's first
    boundary belongs to the closed block, so it is late (counted, not used). The closed block
    cannot be reopened: the next increment carries two intervals as one, once per move."""
    config = AssemblerConfig(900, 4, 120, grace_s=900, offset_min_readings=3, offset_spread_s=10.0)
    rows = _skewed_rows(785, 14)
    asm = IntervalAssembler("M", config)
    cut = DAY0 + 5 * 900 + 100
    _feed(asm, [r for r in rows if r[1] <= cut])
    (block0,) = asm.ready
    assert asm.clock_offsets_s == {"a": -115.0}
    true = np.diff(1000.0 + 10 * np.arange(13) ** 2)  # true[k]: boundary k to k + 1
    # true boundary k read at k + 1 (the first, k = 1, at 2 only anchors)
    np.testing.assert_array_equal(block0.meters_wh[:, 0], [np.nan, np.nan, true[1], true[2]])
    asm.shift_clock("a", -1)
    assert asm.clock_offsets_s == {"a": 785.0} and asm.late_readings == 1
    _feed(asm, [r for r in rows if r[1] > cut])
    block1, block2 = asm.ready
    np.testing.assert_array_equal(block1.meters_wh[:, 0], [true[3] + true[4], *true[5:8]])
    np.testing.assert_array_equal(block2.meters_wh[:, 0], true[8:12])


def test_the_first_block_starts_at_the_first_reading_on_the_grid() -> None:
    """A meter whose clock is 664 s slow from the start stamps a reading before the master's
    first; the blocks still start where the master's readings do."""
    rows = _skewed_rows(-664, 10)
    rows.insert(0, ("a", DAY0 - 664, 1000.0))
    asm = IntervalAssembler("M", SKEWED)
    _feed(asm, rows)
    assert [b.start_ts for b in asm.ready] == [DAY0, DAY0 + 4 * 900]
