"""Vectorised data-quality rules over one area's columnar meter readings.

:class:`DataQualityRules` receives frames of readings (one row per meter reading, in any
order) and reports the readings that break a rule. The rules, and what a finding carries:

=========================  ======================================  =============================
kind                       value                                   reference
=========================  ======================================  =============================
``register_decreased``     the new register (Wh), import or export  the previous register (Wh)
``stuck_register``         seconds since the registers last moved   ``stuck_after_s``
``reverse_energy``         the new export register (Wh)             the previous export register
``clock_skew``             offset from the nearest interval edge, s ``max_clock_skew_s``
``gap``                    seconds since the previous reading        ``max_gap_s``
``voltage_out_of_range``   the voltage (V)                          the violated limit (V)
``current_without_energy`` the current (A)                          the register advance (0 Wh)
=========================  ======================================  =============================

Readings are compared with the meter's previous *accepted* reading, which may come from an
earlier frame (the detector keeps the last accepted timestamp and registers per meter). A
reading whose timestamp is not after the meter's last accepted one is a duplicate or a late
reading: it is dropped silently and never produces a finding, so a redelivered frame is
harmless. Within a frame, the first of several readings with the same meter and timestamp
wins.

Everything is vectorised: the frame is sorted by (meter, ts), each meter's stored state is
put in front of its group as an extra row, and every rule is a comparison of neighbours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors._snapshot import check_version, floats_in, floats_out
from meterwatch.errors import DetectorError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

KINDS: tuple[str, ...] = (
    "register_decreased",
    "stuck_register",
    "reverse_energy",
    "clock_skew",
    "gap",
    "voltage_out_of_range",
    "current_without_energy",
)
_NO_TS = np.iinfo(np.int64).min
_SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Finding:
    """One data-quality finding; see the module docstring for ``value`` and ``reference``."""

    meter: str
    ts: int
    kind: str
    value: float
    reference: float


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the data-quality rules.

    Defaults:

    - ``interval_s = 900``: the reading grid (15 minutes); clock skew is measured against it.
    - ``max_clock_skew_s = 60``: the simulated jitter is a few seconds; a minute off the grid
      means the meter clock is wrong.
    - ``max_gap_s = 3600``: more than an hour without a reading (four quarter-hours missing).
    - ``stuck_after_s = 172800``: 48 h without any register movement. A household's standby
      load moves a 10 Wh register several times a day, so two still days are suspicious.
    - ``register_tolerance_wh = 0.0``: any decrease of a cumulative register is a finding.
    - ``reverse_energy_min_wh = 10.0``: more than one register step (0.01 kWh) of export on a
      meter that is not a prosumer. ``prosumers`` lists the meters allowed to export.
    - ``voltage_min_v = 207.0``, ``voltage_max_v = 253.0``: 230 V ± 10 %, the supply-voltage
      band of EN 50160 for low-voltage supply voltage variations (clause 4.2.2 from memory;
      the ±10 % band itself is well known, the clause number is unchecked).
    - ``min_current_a = 1.0`` and ``min_expected_wh = 20.0``: a current of at least 1 A while
      the registers did not move at all, when voltage × current × elapsed time would have
      been at least two register steps. ``nominal_voltage_v`` stands in for a missing voltage.
    """

    interval_s: int = 900
    max_clock_skew_s: float = 60.0
    max_gap_s: float = 3600.0
    stuck_after_s: float = 172_800.0
    register_tolerance_wh: float = 0.0
    reverse_energy_min_wh: float = 10.0
    prosumers: frozenset[str] = field(default_factory=frozenset)
    voltage_min_v: float = 207.0
    voltage_max_v: float = 253.0
    nominal_voltage_v: float = 230.0
    min_current_a: float = 1.0
    min_expected_wh: float = 20.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prosumers"] = sorted(self.prosumers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityConfig:
        return cls(**{**data, "prosumers": frozenset(data.get("prosumers", ()))})


def _last_index(mask: BoolArray) -> IntArray:
    """For each position, the last position ≤ it where ``mask`` holds (-1 if none)."""
    pos = np.where(mask, np.arange(mask.size, dtype=np.int64), np.int64(-1))
    return np.maximum.accumulate(pos) if mask.size else pos


def _previous(last: IntArray, group_start: IntArray) -> IntArray:
    """Shift a :func:`_last_index` result to *strictly before*, within each group (-1 if none)."""
    prev = np.empty_like(last)
    prev[:1] = -1
    prev[1:] = last[:-1]
    return np.where(prev >= group_start, prev, np.int64(-1))


class DataQualityRules:
    """Stateful, vectorised data-quality rules for the readings of one area.

    >>> import numpy as np
    >>> rules = DataQualityRules()
    >>> frame = (np.array(["000000000001"] * 3), np.array([0, 900, 1800]),
    ...          np.array([100.0, 90.0, 95.0]), np.zeros(3), np.full(3, 230.0), np.zeros(3))
    >>> rules.update(*frame)
    >>> [(f.kind, f.ts, f.value, f.reference) for f in rules.findings]
    [('register_decreased', 900, 90.0, 100.0)]
    >>> rules.update(*frame)  # the same frame again: nothing new
    >>> rules.findings
    ()
    """

    def __init__(self, config: QualityConfig | None = None) -> None:
        self._config = config if config is not None else QualityConfig()
        self._meters: StrArray = np.array([], dtype=str)
        self._last_ts: IntArray = np.array([], dtype=np.int64)
        self._last_obs_ts: IntArray = np.array([], dtype=np.int64)
        self._last_change_ts: IntArray = np.array([], dtype=np.int64)
        self._last_import: FloatArray = np.array([], dtype=np.float64)
        self._last_export: FloatArray = np.array([], dtype=np.float64)
        self._findings: tuple[Finding, ...] = ()

    @property
    def config(self) -> QualityConfig:
        """The thresholds in use."""
        return self._config

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings of the last :meth:`update`, sorted by meter, ts and kind."""
        return self._findings

    @property
    def n_meters(self) -> int:
        """How many meters have an accepted reading."""
        return int(self._meters.size)

    def update(
        self,
        meter: npt.ArrayLike,
        ts: npt.ArrayLike,
        import_wh: npt.ArrayLike,
        export_wh: npt.ArrayLike,
        voltage_v: npt.ArrayLike,
        current_a: npt.ArrayLike,
    ) -> None:
        """Check one frame of readings; NaN marks an absent quantity."""
        m, t, imp, exp, volt, cur = self._validate(
            meter, ts, import_wh, export_wh, voltage_v, current_a
        )
        order = np.lexsort((t, m))
        m, t, imp, exp, volt, cur = (
            m[order],
            t[order],
            imp[order],
            exp[order],
            volt[order],
            cur[order],
        )
        keep = np.ones(m.size, dtype=bool)
        keep[1:] = (m[1:] != m[:-1]) | (t[1:] != t[:-1])
        if self._meters.size:
            known = np.minimum(np.searchsorted(self._meters, m), self._meters.size - 1)
            keep &= (self._meters[known] != m) | (t > self._last_ts[known])
        m, t, imp, exp, volt, cur = m[keep], t[keep], imp[keep], exp[keep], volt[keep], cur[keep]
        if m.size == 0:
            self._findings = ()
            return
        self._findings = self._check(m, t, imp, exp, volt, cur)

    def _check(
        self,
        m: StrArray,
        t: IntArray,
        imp: FloatArray,
        exp: FloatArray,
        volt: FloatArray,
        cur: FloatArray,
    ) -> tuple[Finding, ...]:
        cfg = self.config
        # Prepend each known meter's state as one extra row in front of its group.
        sidx = np.flatnonzero(np.isin(self._meters, m))
        n_state = sidx.size
        m = np.concatenate([self._meters[sidx], m])
        is_state = np.concatenate([np.ones(n_state, dtype=bool), np.zeros(t.size, dtype=bool)])
        obs_ts = np.concatenate([self._last_obs_ts[sidx], t])
        change_ts = np.concatenate([self._last_change_ts[sidx], t])
        t = np.concatenate([self._last_ts[sidx], t])
        nan = np.full(n_state, np.nan)
        imp = np.concatenate([self._last_import[sidx], imp])
        exp = np.concatenate([self._last_export[sidx], exp])
        volt = np.concatenate([nan, volt])
        cur = np.concatenate([nan, cur])
        order = np.lexsort((t, ~is_state, m))
        m, is_state, obs_ts, change_ts, t = (
            m[order],
            is_state[order],
            obs_ts[order],
            change_ts[order],
            t[order],
        )
        imp, exp, volt, cur = imp[order], exp[order], volt[order], cur[order]

        n = m.size
        pos = np.arange(n, dtype=np.int64)
        starts = np.ones(n, dtype=bool)
        starts[1:] = m[1:] != m[:-1]
        group_start = np.maximum.accumulate(np.where(starts, pos, 0))
        new = ~is_state

        prev_row = np.where(starts, -1, pos - 1)
        valid_imp, valid_exp = ~np.isnan(imp), ~np.isnan(exp)
        observed = valid_imp | valid_exp
        p_imp = _previous(_last_index(valid_imp), group_start)
        p_exp = _previous(_last_index(valid_exp), group_start)
        p_obs = _previous(_last_index(observed), group_start)
        prev_imp = np.where(p_imp >= 0, imp[p_imp], np.nan)
        prev_exp = np.where(p_exp >= 0, exp[p_exp], np.nan)
        d_imp, d_exp = imp - prev_imp, exp - prev_exp

        found: list[tuple[BoolArray, str, FloatArray, FloatArray]] = []
        tol = cfg.register_tolerance_wh
        found.append((new & (d_imp < -tol), "register_decreased", imp, prev_imp))
        found.append((new & (d_exp < -tol), "register_decreased", exp, prev_exp))

        moved = (valid_imp & (p_imp >= 0) & (d_imp != 0)) | (
            valid_exp & (p_exp >= 0) & (d_exp != 0)
        )
        first_obs = observed & (p_obs < 0)
        anchor = np.where(is_state, change_ts != _NO_TS, observed & (moved | first_obs))
        a_idx = _last_index(anchor)
        a_idx = np.where(a_idx >= group_start, a_idx, -1)
        last_change = np.where(a_idx >= 0, change_ts[np.maximum(a_idx, 0)], _NO_TS)
        obs_ts = np.where(is_state, obs_ts, np.where(observed, t, _NO_TS))
        prev_obs_ts = np.where(p_obs >= 0, obs_ts[np.maximum(p_obs, 0)], _NO_TS)
        has_change = last_change != _NO_TS
        still = np.where(has_change, t - np.where(has_change, last_change, t), 0).astype(np.float64)
        before = np.where(has_change & (p_obs >= 0), prev_obs_ts - last_change, 0)
        stuck = (
            new
            & observed
            & ~moved
            & has_change
            & (p_obs >= 0)
            & (still >= cfg.stuck_after_s)
            & (before < cfg.stuck_after_s)
        )
        found.append((stuck, "stuck_register", still, np.full(n, cfg.stuck_after_s)))

        exporter = ~np.isin(m, np.array(sorted(cfg.prosumers), dtype=str))
        reverse = new & exporter & (d_exp > cfg.reverse_energy_min_wh)
        found.append((reverse, "reverse_energy", exp, prev_exp))

        half = cfg.interval_s // 2
        offset = ((t + half) % cfg.interval_s - half).astype(np.float64)
        skew = new & (np.abs(offset) > cfg.max_clock_skew_s)
        found.append((skew, "clock_skew", offset, np.full(n, cfg.max_clock_skew_s)))

        elapsed = np.where(prev_row >= 0, t - t[np.maximum(prev_row, 0)], 0).astype(np.float64)
        gap = new & (prev_row >= 0) & (elapsed > cfg.max_gap_s)
        found.append((gap, "gap", elapsed, np.full(n, cfg.max_gap_s)))

        low, high = new & (volt < cfg.voltage_min_v), new & (volt > cfg.voltage_max_v)
        limit = np.where(low, cfg.voltage_min_v, cfg.voltage_max_v)
        found.append((low | high, "voltage_out_of_range", volt, limit))

        advance = d_imp + np.nan_to_num(d_exp, nan=0.0)
        since = np.where(p_obs >= 0, t - np.where(p_obs >= 0, prev_obs_ts, t), 0).astype(np.float64)
        v_eff = np.where(np.isnan(volt), cfg.nominal_voltage_v, volt)
        expected_wh = v_eff * cur * since / 3600.0
        dark = (
            new
            & valid_imp
            & (p_imp >= 0)
            & ~moved
            & (cur >= cfg.min_current_a)
            & (expected_wh >= cfg.min_expected_wh)
        )
        found.append((dark, "current_without_energy", cur, advance))

        self._store_state(m, t, imp, exp, obs_ts, last_change, starts)
        return self._collect(found, m, t)

    def _store_state(
        self,
        m: StrArray,
        t: IntArray,
        imp: FloatArray,
        exp: FloatArray,
        obs_ts: IntArray,
        last_change: IntArray,
        starts: BoolArray,
    ) -> None:
        ends = np.flatnonzero(np.append(starts[1:], True))
        group_start = np.flatnonzero(starts)
        li = _last_index(~np.isnan(imp))[ends]
        le = _last_index(~np.isnan(exp))[ends]
        lo = _last_index(obs_ts != _NO_TS)[ends]
        g_imp = np.where(li >= group_start, imp[np.maximum(li, 0)], np.nan)
        g_exp = np.where(le >= group_start, exp[np.maximum(le, 0)], np.nan)
        g_obs = np.where(lo >= group_start, obs_ts[np.maximum(lo, 0)], _NO_TS)
        g_meters = m[ends]
        keep = ~np.isin(self._meters, g_meters)
        meters = np.concatenate([self._meters[keep], g_meters])
        order = np.argsort(meters, kind="stable")
        self._meters = meters[order]
        self._last_ts = np.concatenate([self._last_ts[keep], t[ends]])[order]
        self._last_obs_ts = np.concatenate([self._last_obs_ts[keep], g_obs])[order]
        self._last_change_ts = np.concatenate([self._last_change_ts[keep], last_change[ends]])[
            order
        ]
        self._last_import = np.concatenate([self._last_import[keep], g_imp])[order]
        self._last_export = np.concatenate([self._last_export[keep], g_exp])[order]

    @staticmethod
    def _collect(
        found: list[tuple[BoolArray, str, FloatArray, FloatArray]], m: StrArray, t: IntArray
    ) -> tuple[Finding, ...]:
        rows: list[tuple[str, int, int, str, float, float]] = []
        for mask, kind, value, reference in found:
            idx = np.flatnonzero(mask)
            rank = KINDS.index(kind)
            rows.extend(
                (meter, ts, rank, kind, v, r)
                for meter, ts, v, r in zip(
                    m[idx].tolist(),
                    t[idx].tolist(),
                    value[idx].tolist(),
                    reference[idx].tolist(),
                    strict=True,
                )
            )
        rows.sort(key=lambda row: row[:3])
        return tuple(Finding(meter, ts, kind, v, r) for meter, ts, _, kind, v, r in rows)

    @staticmethod
    def _validate(
        meter: npt.ArrayLike,
        ts: npt.ArrayLike,
        import_wh: npt.ArrayLike,
        export_wh: npt.ArrayLike,
        voltage_v: npt.ArrayLike,
        current_a: npt.ArrayLike,
    ) -> tuple[StrArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        m = np.asarray(meter).astype(str)
        t_raw = np.asarray(ts)
        if t_raw.size and not np.issubdtype(t_raw.dtype, np.integer):
            raise DetectorError(f"ts must be integer epoch seconds, got dtype {t_raw.dtype}")
        t = t_raw.astype(np.int64)
        floats = [
            np.asarray(a, dtype=np.float64) for a in (import_wh, export_wh, voltage_v, current_a)
        ]
        shapes = {a.shape for a in (m, t, *floats)}
        if len(shapes) != 1 or m.ndim != 1:
            raise DetectorError(f"readings must be 1-D columns of one length, got shapes {shapes}")
        imp, exp, volt, cur = floats
        return m, t, imp, exp, volt, cur

    def snapshot(self) -> dict[str, Any]:
        """The detector's state as plain data (JSON- and msgpack-able; NaN becomes None)."""
        return {
            "kind": "DataQualityRules",
            "version": _SNAPSHOT_VERSION,
            "config": self.config.to_dict(),
            "meters": self._meters.tolist(),
            "last_ts": self._last_ts.tolist(),
            "last_obs_ts": self._last_obs_ts.tolist(),
            "last_change_ts": self._last_change_ts.tolist(),
            "last_import_wh": floats_out(self._last_import),
            "last_export_wh": floats_out(self._last_export),
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> DataQualityRules:
        """Rebuild a detector from :meth:`snapshot` output."""
        check_version(state, "DataQualityRules", _SNAPSHOT_VERSION)
        rules = cls(QualityConfig.from_dict(state["config"]))
        rules._meters = np.array(state["meters"], dtype=str)
        rules._last_ts = np.array(state["last_ts"], dtype=np.int64)
        rules._last_obs_ts = np.array(state["last_obs_ts"], dtype=np.int64)
        rules._last_change_ts = np.array(state["last_change_ts"], dtype=np.int64)
        rules._last_import = floats_in(state["last_import_wh"], np.nan)
        rules._last_export = floats_in(state["last_export_wh"], np.nan)
        return rules
