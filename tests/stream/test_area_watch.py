from __future__ import annotations

import numpy as np

from stream.area_watch import DriftWatch, TamperWatch, WatchConfig

DAY0 = 1_795_651_200  # 2026-11-26T00:00:00Z
DAY = 86_400


def test_a_drifting_meter_gets_one_warning_with_its_forecast_crossing() -> None:
    watch = DriftWatch(WatchConfig(horizon_days=30.0))
    rng = np.random.default_rng(3)
    warnings = []
    for day in range(20):
        meters = ("a", "b") if day < 5 else ("a", "b", "c")  # c joins on day 5
        err = np.array([0.1 * day, 0.0, 0.05][: len(meters)]) + rng.normal(0, 0.02, len(meters))
        u = np.full(len(meters), 0.05)
        got = watch.update(meters, DAY0 + day * DAY, err, u, np.ones(len(meters), bool),
                           np.full(len(meters), 2.0))  # fmt: skip
        warnings += [(day, m, e["forecast_crossing"]) for m, e in got]
        if day == 9:  # a restart in the middle changes nothing
            watch = DriftWatch.restore(watch.snapshot(), WatchConfig(horizon_days=30.0))
    # 0.1 %/day towards 2 %: one warning, once the trend spans 14 days and is half-way to the
    # MPE (day 14), for 2026-12-15; the true crossing is day 20, 2026-12-16
    assert warnings == [(14, "a", "2026-12-15")]


def test_a_lasting_drop_that_stands_out_is_one_tamper_episode() -> None:
    rng = np.random.default_rng(5)
    n = 40
    level = rng.uniform(100, 400, n)
    watch = TamperWatch(WatchConfig())
    meters = tuple(f"m{i:02d}" for i in range(n))
    started = []
    for day in range(28):
        wh = rng.gamma(4.0, level / 4.0, (96, n)) / 96 * 24
        if day >= 16:
            wh[:, 7] *= 0.3  # a bypass takes 70 % of meter 7's consumption from day 16
        started += [(day, m) for m, _ in watch.update(meters, DAY0 + (day + 1) * DAY, wh)]
        if day == 20:
            watch = TamperWatch.restore(watch.snapshot(), WatchConfig())
    # once, at the first weekly check after the drop has lasted most of tamper.recent_days
    assert started == [(27, "m07")]


def test_an_empty_home_keeps_its_base_load_and_is_no_tamper_suspect() -> None:
    """From day 16 meter 7 is bypassed (70 % of every interval goes round it) and meter 9's
    home is empty: only its base load runs (the fridge), half its consumption. Both drops
    stand out; only the bypass took the base load down with it."""
    rng = np.random.default_rng(5)
    n = 40
    level = rng.uniform(100, 400, n)
    meters = tuple(f"m{i:02d}" for i in range(n))

    def suspects(config: WatchConfig) -> list[tuple[int, str]]:
        watch, started = TamperWatch(config), []
        for day in range(28):
            wh = np.random.default_rng(day).gamma(4.0, level / 4.0, (96, n)) / 96 * 24
            if day >= 16:
                wh[:, 7] *= 0.3
                wh[:, 9] = np.quantile(wh[:, 9], 0.1) * (1.0 + 0.1 * rng.standard_normal(96))
            started += [(day, m) for m, _ in watch.update(meters, DAY0 + (day + 1) * DAY, wh)]
        return started

    assert suspects(WatchConfig(min_base_share=-1e9)) == [(27, "m07"), (27, "m09")]
    assert suspects(WatchConfig()) == [(27, "m07")]
