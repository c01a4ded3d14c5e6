"""Shared fixtures. Integration tests use the real services started by ``make services-up``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

from meterwatch.errors import MeterwatchError
from meterwatch.processes import LocalPipeline
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


@pytest.fixture
def stored_readings(db: psycopg.Connection) -> Callable[[str], int]:
    """Rows in ``reading`` whose utility id matches a LIKE pattern."""

    def count(utility_like: str) -> int:
        row = db.execute("SELECT count(*) FROM reading WHERE utility_id LIKE %s", (utility_like,))
        return int(row.fetchone()[0])  # type: ignore[index]

    return count


@pytest.fixture(scope="session")
def pipeline(
    services: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalPipeline]:
    pipe = LocalPipeline(tmp_path_factory.mktemp("pipeline-logs"))
    try:
        yield pipe.start()
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
