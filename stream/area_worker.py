"""Everything the stream does with the frames of one area (pure, no Faust).

Data-quality rules always run; the metrology step (estimates, decisions, orders) runs for
areas the registry knows. :class:`AreaWorker` keeps the live objects, so a worker restores
them from the Faust table once per area, not once per frame; its ``snapshot`` is the plain
data the table stores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from meterwatch.domain import ReadingFrame
from meterwatch.errors import DetectorError
from meterwatch.scoring import epoch_s
from stream import metrics
from stream.area_estimation import DISTURBANCES, AreaEstimation, EstimationConfig
from stream.area_quality import QualityWatch
from stream.registry import RegistryBook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AreaOutput:
    state: dict[str, Any]  # empty from AreaWorker.process: take AreaWorker.snapshot() then
    events: list[dict[str, Any]]
    estimates: list[dict[str, Any]]
    residuals: list[tuple[int, np.ndarray]] = field(default_factory=list)


class AreaWorker:
    def __init__(
        self,
        utility: str,
        area: str,
        registry: RegistryBook | None,
        config: EstimationConfig | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        state = state or {}
        known = registry.area(utility, area) if registry is not None else None
        consumers = known.without_generation if known is not None else frozenset()
        self._quality = QualityWatch.restore(state.get("quality"), area, None, consumers)
        self._estimation: AreaEstimation | None = None
        if known is not None:
            self._estimation = AreaEstimation(known, config)
            if state.get("estimation"):
                try:
                    self._estimation = AreaEstimation.restore(state["estimation"], known, config)
                except (DetectorError, KeyError) as exc:  # an older version's snapshot
                    log.warning("area %s: estimation state unusable (%s); afresh", area, exc)
                    metrics.STATE_RESETS.inc()

    def process(self, frame: ReadingFrame) -> AreaOutput:
        events = self._quality.events(frame)
        if self._estimation is None:
            return AreaOutput({}, events, [])
        self._estimation.note_disturbances(
            [epoch_s(e["time"]) for e in events if e["type"].split(".")[2] in DISTURBANCES]
        )
        result = self._estimation.update(frame)
        return AreaOutput({}, events + result.events, result.estimates, result.residuals)

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {"quality": self._quality.snapshot()}
        if self._estimation is not None:
            state["estimation"] = self._estimation.snapshot()
        return state


def assess_frame(
    frame: ReadingFrame,
    state: dict[str, Any] | None,
    registry: RegistryBook | None,
    config: EstimationConfig | None = None,
) -> AreaOutput:
    """One frame against a stored state: the plain-data form of :class:`AreaWorker`."""
    worker = AreaWorker(frame.utility, frame.area, registry, config, state)
    out = worker.process(frame)
    return AreaOutput(worker.snapshot(), out.events, out.estimates, out.residuals)
