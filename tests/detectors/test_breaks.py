from __future__ import annotations

import numpy as np

from detectors.breaks import Break, Deferred, find_break, plausible_step


def _day(seed: int, n: int = 30, t: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = 1.0 + 0.6 * np.sin(2 * np.pi * np.arange(t) / t)[:, None]
    x = rng.gamma(2.0, 60.0, size=(t, n)) * shape
    noise = rng.normal(0.0, 15.0, size=t)
    return x, noise


def test_a_reversed_meter_is_found_and_its_neighbours_are_not() -> None:
    x, noise = _day(1)
    after = np.arange(96) >= 23  # from 05:45 its consumption runs on the export register
    seen = x.copy()
    seen[after, 7] *= -1.0  # what the balance gets from it: θ 1 -> -1
    residuals = noise + 2.0 * np.where(after, x[:, 7], 0.0)
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-4)
    found = find_break(seen, read, residuals, var, theta_var, min_change=0.3, z=8.0)
    assert found is not None and (found.meter, found.row) == (7, 24)  # the hour it showed in
    assert round(found.change, 3) == -1.997 and round(found.z) == 118


def test_a_normal_day_and_a_single_bad_reading_are_no_break() -> None:
    x, noise = _day(2)
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-4)
    assert find_break(x, read, noise, var, theta_var, min_change=0.3, z=8.0) is None
    stepped = x.copy()
    stepped[40, 3] = -19_000.0  # the register stepped back 19 kWh once
    residuals = noise.copy()
    residuals[40] += 19_000.0 + x[40, 3]
    assert find_break(stepped, read, residuals, var, theta_var, min_change=0.3, z=8.0) is None


def test_a_step_is_no_break_while_theta_is_still_unknown_or_when_it_is_small() -> None:
    x, noise = _day(3)
    read, var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2)
    residuals = noise + 0.5 * x[:, 4]  # a bypass of a third of the load: θ 1 -> 1.5
    known = find_break(x, read, residuals, var, np.full(30, 1e-4), min_change=0.3, z=8.0)
    assert (
        known is not None and (known.meter, known.row) == (4, 0) and round(known.change, 3) == 0.505
    )
    assert find_break(x, read, residuals, var, np.full(30, 0.01), min_change=0.3, z=8.0) is None
    assert find_break(x, read, residuals, var, np.full(30, 1e-4), min_change=0.6, z=8.0) is None
    unread = read.copy()
    unread[:, 4] = False  # its cells were all guessed: no evidence about it
    blind = find_break(x, unread, residuals, var, np.full(30, 1e-4), min_change=0.3, z=8.0)
    assert blind is None or blind.meter != 4


def test_a_guessed_level_is_fitted_with_the_step_and_not_taken_for_one() -> None:
    """From row 40 one meter is in an outage: its cells are guessed at its mean (60 Wh), the
    truth is 0, so the balance is 60 Wh short on every row. A neighbour with a flat profile
    would explain that as a step of its own; with the guess's level as a nuisance it does not."""
    x, noise = _day(4)
    x[:, 5] = 150.0 + np.random.default_rng(5).normal(0.0, 5.0, 96)  # flat, like a fridge shop
    guessed = np.where(np.arange(96) >= 40, 60.0, 0.0)
    residuals = noise - guessed
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-4)
    alone = find_break(x, read, residuals, var, theta_var, min_change=0.3, z=8.0)
    assert alone is not None and (alone.meter, alone.row) == (5, 40)
    level = guessed[:, None]
    assert (
        find_break(x, read, residuals, var, theta_var, min_change=0.3, z=8.0, nuisance=level)
        is None
    )


def test_a_step_of_the_master_is_no_meters_break() -> None:
    """From row 24 the master reads 1.5 % low: the residuals step by −1.5 % of the model. A
    meter with a flat profile explains that as a step of its own θ; given the model, the
    master's step explains it better and no meter breaks. A meter's own step still does."""
    x, noise = _day(6)
    x[:, 5] = 150.0 + np.random.default_rng(7).normal(0.0, 5.0, 96)  # flat, like a fridge shop
    model = x.sum(axis=1)
    after = np.arange(96) >= 24
    residuals = noise - 0.015 * np.where(after, model, 0.0)
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-4)
    alone = find_break(x, read, residuals, var, theta_var, min_change=0.3, z=8.0)
    assert alone is not None and (alone.meter, alone.row) == (5, 24)
    assert round(alone.change, 3) == -0.322
    assert (
        find_break(x, read, residuals, var, theta_var, min_change=0.3, z=8.0, common=model) is None
    )
    bypass = noise + 0.5 * x[:, 4]  # a meter's own step is still its own
    own = find_break(x, read, bypass, var, theta_var, min_change=0.3, z=8.0, common=model)
    assert own is not None and (own.meter, own.row) == (4, 0)
    master = find_break(  # asked for, the master's step is a finding of its own
        x, read, residuals, var, theta_var, min_change=0.3, z=8.0, common=model,
        master_step_min=0.01,
    )  # fmt: skip
    assert master is not None and master.master and (master.meter, master.row) == (30, 24)
    assert round(master.change, 4) == -0.0146
    smaller = find_break(
        x, read, residuals, var, theta_var, min_change=0.3, z=8.0, common=model,
        master_step_min=0.02,
    )  # fmt: skip
    assert smaller is None


def test_a_step_late_in_the_block_is_left_to_the_next() -> None:
    """The same step of the master from row 72: within the block's last 8 hours it has too few
    rows to tell who stepped, so the block leaves it to the next one, which sees it from its
    first row on. Without the late window (``late_rows`` 0) it is taken from these 24 rows."""
    x, noise = _day(6)
    x[:, 5] = 150.0 + np.random.default_rng(7).normal(0.0, 5.0, 96)
    model = x.sum(axis=1)
    residuals = noise - 0.015 * np.where(np.arange(96) >= 72, model, 0.0)
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-4)
    args = (x, read, residuals, var, theta_var)
    kwargs = {"min_change": 0.3, "z": 8.0, "common": model, "master_step_min": 0.01}
    now = find_break(*args, **kwargs, late_rows=0)
    assert isinstance(now, Break) and now.master and now.row == 72
    assert round(now.change, 4) == -0.0147
    assert find_break(*args, **kwargs) == Deferred(now)


def test_only_steps_an_installation_can_take_are_breaks() -> None:
    """From row 40 the balance is short of half of meter 6's increments, as if its θ had
    dropped from 1 to 0.5 (it registered twice what passed through it): no bypass, reversal or
    repair does that, so it is no break of a meter near θ = 1. The same residuals are a
    bypass ending for a meter re-opened at θ = 2 (back towards 1), and a step up of 0.5 from
    θ = 1 (a bypass starting) is one."""
    x, noise = _day(8)
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-4)
    after = np.arange(96) >= 40
    down = noise - 0.5 * np.where(after, x[:, 6], 0.0)
    alone = find_break(x, read, down, var, theta_var, min_change=0.3, z=8.0)
    assert alone is not None and (alone.meter, alone.row) == (6, 40)
    assert round(alone.change, 3) == -0.49
    theta = np.ones(30)
    assert find_break(x, read, down, var, theta_var, min_change=0.3, z=8.0, theta=theta) is None
    theta[6] = 2.0
    ending = find_break(x, read, down, var, theta_var, min_change=0.3, z=8.0, theta=theta)
    assert ending == alone
    up = noise + 0.5 * np.where(after, x[:, 6], 0.0)
    starting = find_break(x, read, up, var, theta_var, min_change=0.3, z=8.0, theta=np.ones(30))
    assert starting is not None and (starting.meter, round(starting.change, 3)) == (6, 0.51)
    assert not starting.error_step


def test_a_steady_meter_may_take_a_step_of_its_error() -> None:
    """From row 40 a shop (ten times a household's load) registers 5 % less than passes
    through it: θ 1 -> 1.05. Too small for a break; a step of its error when the meter is
    steady and the step within ``error_step``, in either direction."""
    x, noise = _day(9)
    x[:, 2] *= 10.0
    read, var, theta_var = np.ones_like(x, dtype=bool), np.full(96, 15.0**2), np.full(30, 1e-6)
    after = np.arange(96) >= 40
    for sign, change, z in ((1.0, 0.048, 27), (-1.0, -0.052, 29)):
        residuals = noise + sign * 0.05 * np.where(after, x[:, 2], 0.0)
        common = {"min_change": 0.3, "z": 8.0, "theta": np.ones(30)}
        assert find_break(x, read, residuals, var, theta_var, **common) is None
        steady = np.ones(30, dtype=bool)
        found = find_break(
            x, read, residuals, var, theta_var, steady=steady, error_step=(0.02, 0.1), **common
        )
        assert found is not None and (found.meter, found.row, found.error_step) == (2, 40, True)
        assert (round(found.change, 3), round(found.z)) == (change, z)
        narrow = find_break(
            x, read, residuals, var, theta_var, steady=steady, error_step=(0.02, 0.04), **common
        )
        steady[2] = False  # it had a break before: its θ is still settling
        broken = find_break(
            x, read, residuals, var, theta_var, steady=steady, error_step=(0.02, 0.1), **common
        )
        assert narrow is None and broken is None


def test_plausible_steps() -> None:
    assert plausible_step(1.0, 0.45, 0.3)  # a bypass of 31 % starts
    assert not plausible_step(1.0, -0.45, 0.3)  # the meter counts 1.8x what passes
    assert plausible_step(1.0, -2.0, 0.3) and plausible_step(-1.0, 2.0, 0.3)  # wiring
    assert plausible_step(2.4, -1.4, 0.3) and plausible_step(2.4, -1.0, 0.3)  # bypass ends
    assert not plausible_step(1.2, -0.35, 0.3)  # below 1 from near it: no repair does that
