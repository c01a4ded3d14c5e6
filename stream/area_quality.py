"""The stream's per-area step, free of Faust: frame + stored state -> new state + events.

The Faust agent (:mod:`stream.app`) keeps the returned state in a table keyed by area, so a
restarted worker resumes with what it had learned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from detectors.quality import DataQualityRules, Finding, QualityConfig
from meterwatch.domain import ReadingFrame
from meterwatch.errors import DetectorError
from stream import metrics
from stream.cloudevents import make_event

log = logging.getLogger(__name__)

DETECTOR: Final = "detectors.quality.DataQualityRules/1"
EVENT_KINDS: Final = ("register_decreased",)  # the walking skeleton's only rule


@dataclass(frozen=True)
class StepResult:
    state: dict[str, Any]
    events: list[dict[str, Any]]


def process_frame(
    frame: ReadingFrame,
    state: dict[str, Any] | None,
    config: QualityConfig | None = None,
    kinds: tuple[str, ...] = EVENT_KINDS,
) -> StepResult:
    """Run the data-quality rules over one frame of an area."""
    rules = restore_rules(state, frame.area, config)
    events = quality_events(rules, frame, kinds)
    return StepResult(rules.snapshot(), events)


def restore_rules(
    state: dict[str, Any] | None, area: str, config: QualityConfig | None = None
) -> DataQualityRules:
    """The rules from a snapshot; fresh ones when there is none or it is unusable."""
    if state:
        try:
            return DataQualityRules.restore(state)
        except DetectorError as exc:  # e.g. a snapshot written by an older detector version
            log.warning("area %s: stored state unusable (%s); starting afresh", area, exc)
            metrics.STATE_RESETS.inc()
    return DataQualityRules(config)


def quality_events(
    rules: DataQualityRules, frame: ReadingFrame, kinds: tuple[str, ...] = EVENT_KINDS
) -> list[dict[str, Any]]:
    """Update live rules with one frame; the events of the findings of ``kinds``."""
    rules.update(
        frame.meter,
        frame.ts,
        frame.import_wh.astype(float),
        frame.export_wh.astype(float),
        frame.voltage_v,
        frame.current_a,
    )
    return [_event(frame, f) for f in rules.findings if f.kind in kinds]


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
