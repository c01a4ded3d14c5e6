"""Everything the stream does with one frame of one area (pure, no Faust).

Data-quality rules always run; the metrology step (estimates, decisions, orders) runs for
areas the registry knows. The combined state is plain data for the Faust table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from meterwatch.domain import ReadingFrame
from meterwatch.errors import DetectorError
from stream import metrics
from stream.area_estimation import EstimationConfig, estimation_step
from stream.area_quality import process_frame
from stream.registry import RegistryBook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AreaOutput:
    state: dict[str, Any]
    events: list[dict[str, Any]]
    estimates: list[dict[str, Any]]
    residuals: list[tuple[int, np.ndarray]] = field(default_factory=list)


def assess_frame(
    frame: ReadingFrame,
    state: dict[str, Any] | None,
    registry: RegistryBook | None,
    config: EstimationConfig | None = None,
) -> AreaOutput:
    state = state or {}
    quality = process_frame(frame, state.get("quality"))
    new_state: dict[str, Any] = {"quality": quality.state}
    events = list(quality.events)
    estimates: list[dict[str, Any]] = []
    residuals: list[tuple[int, np.ndarray]] = []
    area = registry.area(frame.utility, frame.area) if registry is not None else None
    if area is not None:
        previous = state.get("estimation")
        try:
            result = estimation_step(frame, previous, area, config)
        except DetectorError as exc:  # e.g. a snapshot of an older detector version
            log.warning("area %s: estimation state unusable (%s); starting afresh", frame.area, exc)
            metrics.STATE_RESETS.inc()
            result = estimation_step(frame, None, area, config)
        new_state["estimation"] = result.state
        events += result.events
        estimates, residuals = result.estimates, result.residuals
    return AreaOutput(new_state, events, estimates, residuals)
