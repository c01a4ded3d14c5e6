"""Replacement orders through the real services equal the offline analysis, exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from meterwatch.analysis import analyze, replacement_orders
from meterwatch.processes import LocalPipeline, ServiceProcess
from meterwatch.settings import CommonSettings
from simulators.faults import FaultSpec
from simulators.fleet import FleetSpec
from simulators.loadgen import MqttSink
from simulators.metrology import MetrologySpec
from simulators.scenario import Scenario, publish, simulate_to
from stream.registry import RegistryBook

pytestmark = pytest.mark.integration
ORDER = "meterwatch.meter.out_of_tolerance.v1"


@pytest.fixture
def stream_with_registry(
    pipeline: LocalPipeline, tmp_path: Path
) -> Iterator[Callable[[Path], ServiceProcess]]:
    """Swap the session's stream worker for one that knows a registry; swap back after."""
    plain = pipeline.stream
    plain.stop()
    started: list[ServiceProcess] = []

    def start(registry: Path) -> ServiceProcess:
        env = {"METERWATCH_REGISTRY_FILE": str(registry)}
        worker = ServiceProcess("stream", tmp_path / "stream.log", env)
        worker.start().wait_for_log("Worker]: Ready", timeout_s=120)
        started.append(worker)
        pipeline.stream = worker
        return worker

    yield start
    for worker in started:
        worker.stop()
    pipeline.stream = plain
    pipeline.start_stream()


def test_orders_match_the_offline_analysis_and_a_crash_and_redelivery_repeat_nothing(
    pipeline: LocalPipeline, db: psycopg.Connection, services: CommonSettings, run_id: str,
    meter_base: int, tmp_path: Path, wait_until: Callable[..., object],
    stream_with_registry: Callable[[Path], ServiceProcess],
) -> None:  # fmt: skip
    scenario = Scenario(
        FleetSpec(
            utilities=1, areas_per_utility=1, meters_per_area=80, days=28, seed=11,
            meter_base=meter_base, utility_prefix=f"ord{run_id}",
        ),
        FaultSpec.none(),
        MetrologySpec(static_oot_fraction=0.15),
    )  # fmt: skip
    run, _ = simulate_to(scenario, tmp_path)
    offline = analyze(
        tmp_path / "readings.csv", tmp_path / "registry.csv",
        RegistryBook.from_csv(tmp_path / "registry.csv"),
    )  # fmt: skip
    expected = sorted(replacement_orders(offline))
    assert len(expected) >= 2  # the scenario must order meters out, or this proves nothing

    worker = stream_with_registry(tmp_path / "registry.csv")

    def estimates() -> int:
        row = db.execute(
            "SELECT count(*) FROM error_estimate WHERE utility_id = %s", (f"ord{run_id}-1",)
        ).fetchone()
        return int(row[0])  # type: ignore[index]

    def orders() -> list[tuple[str, int]]:
        return db.execute(
            "SELECT subject, count(*) FROM event WHERE type = %s AND utility_id = %s "
            "GROUP BY subject ORDER BY subject",
            (ORDER, f"ord{run_id}-1"),
        ).fetchall()

    def send_all() -> None:
        sink = MqttSink(services.mqtt_host, services.mqtt_port, f"pub-{run_id}")
        publish(run, sink)
        sink.close()

    want = [(meter, 1) for meter in expected]
    send_all()
    # every closed day of every meter first (a loaded machine may take minutes), then orders
    assert wait_until(estimates, 80 * 27, timeout_s=600) == 80 * 27  # 27 closed days
    assert wait_until(orders, want, timeout_s=30) == want  # exactly analyze's, once each
    # A hard crash, then every message again (a redelivery storm): nothing may be repeated.
    worker.kill()
    stream_with_registry(tmp_path / "registry.csv")
    send_all()
    assert wait_until(orders, -1, timeout_s=20) == want
    assert estimates() == 80 * 27
