"""Fixtures of the storage integration tests: a registered fleet and login roles."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from meterwatch.domain import ReadingFrame
from meterwatch.settings import CommonSettings
from storage.registry import REGISTRY_COLUMNS

ROLE_PASSWORD = "test-role-password"


def url_as(database_url: str, user: str, password: str) -> str:
    """The same database over TCP, as another role."""
    params = conninfo_to_dict(database_url)
    params.update(user=user, password=password)
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture
def login_role(db: psycopg.Connection, services: CommonSettings) -> Iterator[Callable[..., str]]:
    """Factory: create a login role (member of ``group`` or bound to ``utility``); its URL."""
    created: list[str] = []

    def make(name: str, *, group: str | None = None, utility: str | None = None) -> str:
        if utility is not None:
            db.execute(
                "SELECT meterwatch_create_utility_role(%s, %s, %s)", (name, utility, ROLE_PASSWORD)
            )
        else:
            db.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{ROLE_PASSWORD}' IN ROLE {group}")
        created.append(name)
        return url_as(services.database_url, name, ROLE_PASSWORD)

    yield make
    for name in created:
        db.execute("DELETE FROM utility_role WHERE role_name = %s", (name,))
        for _ in range(50):  # a closed session's temp objects are dropped as its backend exits
            try:
                db.execute(f"DROP ROLE IF EXISTS {name}")
                break
            except psycopg.errors.DependentObjectsStillExist:
                time.sleep(0.1)


@pytest.fixture
def writer_url(services: CommonSettings) -> str:
    return url_as(services.database_url, "meterwatch_writer", "meterwatch_writer")


def write_registry(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=REGISTRY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def registry_row(meter_id: int, utility: str, area: str, batch: str = "B1") -> dict[str, str]:
    return {
        "meter_id": f"{meter_id:012d}", "utility_id": utility, "utility_name": f"Utility {utility}",
        "area_id": area, "area_name": f"Area {area}", "meter_type": "electricity",
        "accuracy_class": "2.0", "manufacturer": "Acme", "model": "X1",
        "production_batch": batch, "install_date": "2021-03-01",
    }  # fmt: skip


def frame(utility: str, area: str, meters: list[str], day: datetime, hours: list[int],
          start_wh: int = 1000, wh_per_hour: int = 100) -> ReadingFrame:  # fmt: skip
    """Hourly cumulative readings of ``meters`` on ``day`` (UTC) at ``hours``."""
    base = int(day.replace(tzinfo=UTC).timestamp())
    meter = np.repeat(np.array(meters, dtype="<U12"), len(hours))
    hour = np.tile(np.array(hours, dtype=np.int64), len(meters))
    return ReadingFrame(
        utility=utility, area=area, meter=meter, ts=base + hour * 3600,
        import_wh=start_wh + hour * wh_per_hour, export_wh=np.zeros(len(meter), dtype=np.int64),
        voltage_v=np.full(len(meter), 230.0), current_a=np.full(len(meter), np.nan),
    )  # fmt: skip


@pytest.fixture(name="write_registry")
def write_registry_fixture() -> Callable[[Path, list[dict[str, str]]], Path]:
    return write_registry


@pytest.fixture(name="registry_row")
def registry_row_fixture() -> Callable[..., dict[str, str]]:
    return registry_row


@pytest.fixture(name="make_frame")
def make_frame_fixture() -> Callable[..., ReadingFrame]:
    return frame
