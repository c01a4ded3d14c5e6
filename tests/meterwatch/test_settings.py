from __future__ import annotations

import pytest
from pydantic import ValidationError

from meterwatch.settings import IngestSettings, StoreSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests set their own METERWATCH_* variables; the caller's must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith("METERWATCH_"):
            monkeypatch.delenv(name)


def test_local_ports_shape_the_default_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERWATCH_PG_PORT", "55432")
    monkeypatch.setenv("METERWATCH_KAFKA_PORT", "19092")
    settings = StoreSettings()
    assert settings.database_url == "postgresql://meterwatch:meterwatch@127.0.0.1:55432/meterwatch"
    assert settings.kafka_bootstrap == "127.0.0.1:19092"


def test_explicit_addresses_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERWATCH_KAFKA_BOOTSTRAP", "broker-a:9092,broker-b:9092")
    assert StoreSettings().kafka_bootstrap == "broker-a:9092,broker-b:9092"


def test_bad_values_are_refused_with_the_field_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERWATCH_LINGER_MS", "0")
    with pytest.raises(ValidationError, match="linger_ms"):
        IngestSettings()


def test_each_service_has_its_own_metrics_port_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERWATCH_STORE_METRICS_PORT", "19303")
    assert StoreSettings().metrics_port == 19303
    assert IngestSettings().metrics_port == 9301
