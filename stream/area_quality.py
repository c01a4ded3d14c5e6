"""The stream's data-quality step, free of Faust: frame + stored state -> new state + events.

The Faust agent (:mod:`stream.app`) keeps the returned state in a table keyed by area, so a
restarted worker resumes with what it had learned.

Findings become events in two ways. A register that decreased, a register that has stood
still for ``stuck_after_s`` and a gap are single occurrences: the rules report each once, and
each is an event. A clock off the grid, a voltage out of range and current without energy
are states a meter is *in*, reported by the rules on every reading: they give one event per
episode, which opens with the first finding and closes when the meter's latest reading in a
frame is clean again. Export on a meter is one too (``reverse_energy``, reversed wiring),
but only for the meters the registry says have no generation behind them
(``has_generation`` 0): on a meter with PV, or one whose generation is not known, export is
normal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from detectors.quality import DataQualityRules, Finding, QualityConfig
from meterwatch.domain import ReadingFrame
from meterwatch.errors import DetectorError
from stream import metrics
from stream.cloudevents import make_event

log = logging.getLogger(__name__)

DETECTOR: Final = "detectors.quality.DataQualityRules/1"
OCCURRENCE_KINDS: Final = ("register_decreased", "stuck_register", "gap")
EPISODE_KINDS: Final = (
    "clock_skew", "voltage_out_of_range", "current_without_energy", "reverse_energy",
)  # fmt: skip
EVENT_KINDS: Final = OCCURRENCE_KINDS + EPISODE_KINDS


@dataclass(frozen=True)
class StepResult:
    state: dict[str, Any]
    events: list[dict[str, Any]]


def process_frame(
    frame: ReadingFrame,
    state: dict[str, Any] | None,
    config: QualityConfig | None = None,
    kinds: tuple[str, ...] = EVENT_KINDS,
    without_generation: frozenset[str] = frozenset(),
) -> StepResult:
    """Run the data-quality rules over one frame of an area."""
    watch = QualityWatch.restore(state, frame.area, config, without_generation)
    events = watch.events(frame, kinds)
    return StepResult(watch.snapshot(), events)


class QualityWatch:
    """The rules of one area and its open episodes (meter, kind) of the episode kinds.

    ``without_generation`` (from the registry, not kept in the snapshot): the meters whose
    export is reported as ``reverse_energy``.
    """

    def __init__(
        self,
        rules: DataQualityRules,
        open_episodes: set[tuple[str, str]],
        without_generation: frozenset[str] = frozenset(),
    ) -> None:
        self.rules = rules
        self.open = open_episodes
        self.without_generation = without_generation

    @classmethod
    def restore(
        cls,
        state: dict[str, Any] | None,
        area: str,
        config: QualityConfig | None = None,
        without_generation: frozenset[str] = frozenset(),
    ) -> QualityWatch:
        """From a snapshot; afresh when there is none or it is unusable."""
        if state:
            try:  # a bare rules snapshot is the layout before episodes were kept
                rules = DataQualityRules.restore(state.get("rules", state))
                opened = {(m, k) for m, k in state.get("open", [])}
                return cls(rules, opened, without_generation)
            except DetectorError as exc:  # e.g. a snapshot of an older detector version
                log.warning("area %s: stored state unusable (%s); starting afresh", area, exc)
                metrics.STATE_RESETS.inc()
        return cls(DataQualityRules(config), set(), without_generation)

    def snapshot(self) -> dict[str, Any]:
        return {"rules": self.rules.snapshot(), "open": sorted(map(list, self.open))}

    def events(
        self, frame: ReadingFrame, kinds: tuple[str, ...] = EVENT_KINDS
    ) -> list[dict[str, Any]]:
        """Update the rules with one frame; events of new occurrences and new episodes."""
        self.rules.update(
            frame.meter,
            frame.ts,
            frame.import_wh.astype(float),
            frame.export_wh.astype(float),
            frame.voltage_v,
            frame.current_a,
        )
        latest_finding: dict[tuple[str, str], int] = {}
        events = []
        for f in self.rules.findings:
            if f.kind not in kinds:
                continue
            if f.kind == "reverse_energy" and f.meter not in self.without_generation:
                continue  # export is normal where generation is, or may be, behind the meter
            key = (f.meter, f.kind)
            latest_finding[key] = max(f.ts, latest_finding.get(key, f.ts))
            if f.kind in EPISODE_KINDS:
                if key in self.open:
                    continue  # this episode was reported
                self.open.add(key)
            events.append(_event(frame, f))
        latest_reading = _latest_per_meter(frame) if self.open else {}
        for meter, kind in list(self.open):  # a clean latest reading closes an episode
            if (
                meter in latest_reading
                and latest_finding.get((meter, kind), -1) < latest_reading[meter]
            ):
                self.open.discard((meter, kind))
        return events


def _latest_per_meter(frame: ReadingFrame) -> dict[str, int]:
    order = np.lexsort((frame.ts, frame.meter))
    meters, stamps = frame.meter[order], frame.ts[order]
    last = np.append(meters[1:] != meters[:-1], True)
    return dict(zip(meters[last].tolist(), stamps[last].tolist(), strict=True))


def _event(frame: ReadingFrame, finding: Finding) -> dict[str, Any]:
    data = {
        "utility": frame.utility,
        "area": frame.area,
        "meter": finding.meter,
        "ts": finding.ts,
        "rule": finding.kind,
        "value": finding.value,
        "reference": finding.reference,
        "detector": DETECTOR,
    }
    return make_event(
        f"meterwatch.meter.{finding.kind}.v1",
        f"meterwatch/stream/{frame.utility}/{frame.area}",
        finding.meter,
        finding.ts,
        data,
    )
