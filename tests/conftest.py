"""Shared fixtures. Integration tests use the real services started by ``make services-up``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from meterwatch.errors import MeterwatchError
from meterwatch.processes import ServiceProcess
from meterwatch.settings import CommonSettings
from meterwatch.topics import ensure_topics
from storage.migrate import connect, migrate


@pytest.fixture(scope="session")
def settings() -> CommonSettings:
    return CommonSettings()


@pytest.fixture(scope="session")
def services(settings: CommonSettings) -> CommonSettings:
    """The local services answer, topics exist and the schema is migrated."""
    try:
        ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions)
        with connect(settings.database_url) as conn:
            migrate(conn)
    except MeterwatchError as exc:
        pytest.fail(f"local services not ready ({exc}); run `make services-up` first")
    return settings


@pytest.fixture
def db(services: CommonSettings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        yield conn


class Pipeline:
    """ingest, stream and store as child processes, each restartable (crash tests)."""

    def __init__(self, log_dir: Path) -> None:
        # The bridge uses the default MQTT client id, like the demo: a bridge with another id
        # would leave a persistent session behind that keeps its share of the messages.
        self.ingest = ServiceProcess("ingest", log_dir / "ingest.log")
        self.stream = ServiceProcess("stream", log_dir / "stream.log")
        self.store = ServiceProcess("store", log_dir / "store.log")

    def start_ingest(self) -> None:
        self.ingest.start().wait_for_log("bridge running")

    def start_store(self) -> None:
        self.store.start().wait_for_log("resuming from database offsets")

    def start_stream(self) -> None:
        self.stream.start().wait_for_log("Worker]: Ready", timeout_s=120)

    def stop(self) -> None:
        for process in (self.ingest, self.stream, self.store):
            process.stop(grace_s=15)


@pytest.fixture(scope="session")
def pipeline(
    services: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    log_dir = tmp_path_factory.mktemp("pipeline-logs")
    pipe = Pipeline(log_dir)
    try:
        pipe.start_store()
        pipe.start_stream()
        pipe.start_ingest()
        yield pipe
    finally:
        pipe.stop()


@pytest.fixture
def run_id() -> str:
    """A short id that keeps each test's utilities, areas and meters apart from others'."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def meter_base() -> int:
    """A random block of 10^6 meter numbers for one test's fleet."""
    return (uuid.uuid4().int % 900_000 + 100_000) * 1_000_000


def _wait_until(
    probe: Callable[[], object], expected: object, timeout_s: float = 120.0, interval_s: float = 0.5
) -> object:
    """Poll ``probe`` until it returns ``expected``; return the last value seen either way."""
    deadline = time.monotonic() + timeout_s
    value = probe()
    while value != expected and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = probe()
    return value


@pytest.fixture
def wait_until() -> Callable[..., object]:
    return _wait_until
