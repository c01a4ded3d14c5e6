"""One simulated run end to end: files on disk plus the messages its devices send.

Shared by ``meterwatch demo`` and the integration tests, so both publish exactly what the
ground truth and the readings file describe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulators.faults import FaultSpec
from simulators.fleet import FleetSpec, build_fleet
from simulators.load import LoadSpec
from simulators.loadgen import MqttSink, Paced, PublishReport, publish_paced
from simulators.metrology import MetrologySpec, draw_errors
from simulators.payload_stream import fleet_messages, message_count
from simulators.readings import AreaRun, FleetRun, ReadingSpec, iter_areas
from simulators.truth import RunSummary, write_run


@dataclass(frozen=True)
class Scenario:
    fleet: FleetSpec
    faults: FaultSpec = field(default_factory=FaultSpec)
    metrology: MetrologySpec = field(default_factory=MetrologySpec)


def simulate_to(
    scenario: Scenario,
    out_dir: Path,
    on_area: Callable[[AreaRun], None] | None = None,
    *,
    readings: bool = True,
) -> tuple[FleetRun, RunSummary]:
    """Write registry, truth and (optionally) readings files; return the run (kept in memory)."""
    fleet = build_fleet(scenario.fleet)
    errors = draw_errors(fleet, scenario.metrology)
    kept: list[AreaRun] = []

    def keep(area: AreaRun) -> None:
        kept.append(area)
        if on_area is not None:
            on_area(area)

    summary = write_run(
        fleet, errors, iter_areas(fleet, errors, scenario.faults), out_dir,
        specs=(scenario.faults, scenario.metrology, LoadSpec(), ReadingSpec()), on_area=keep,
        readings=readings,
    )  # fmt: skip
    return FleetRun(fleet, errors, tuple(kept)), summary


def publish(
    run: FleetRun,
    sink: MqttSink,
    *,
    speed: float = 0.0,
    jitter_s: float = 5.0,
    on_sent: Callable[[int], None] | None = None,
) -> PublishReport:
    """Every device message of the run, QoS1, paced at ``speed`` simulated s per second."""
    pace = 1.0 / speed if speed > 0 else 0.0
    start_s = run.fleet.spec.start_s

    def paced() -> Iterator[Paced]:
        for m in fleet_messages(run, jitter_s=jitter_s):
            yield (m.publish_s - start_s) * pace, m.topic, m.payload, m.readings

    return publish_paced(paced(), sink, ack_timeout_s=120.0, on_sent=on_sent)


__all__ = ["Scenario", "message_count", "publish", "simulate_to"]
