"""Service settings: one pydantic-settings class per service, environment prefix ``METERWATCH_``.

They are built once in the CLI and passed down; library code never reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO = Path(__file__).resolve().parent.parent


class CommonSettings(BaseSettings):
    """Addresses of the services every component talks to."""

    model_config = SettingsConfigDict(
        env_prefix="METERWATCH_", extra="ignore", populate_by_name=True
    )

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(1883, ge=1, le=65535)
    # The ports deploy/local uses (same variables); they shape the two defaults below.
    kafka_port: int = Field(9092, ge=1, le=65535)
    pg_port: int = Field(5432, ge=1, le=65535)
    kafka_bootstrap: str = Field(
        "", description="Kafka bootstrap servers host:port[,...]; default 127.0.0.1:KAFKA_PORT"
    )
    kafka_partitions: int = Field(4, ge=1, description="partitions of the meterwatch topics")
    database_url: str = Field(
        "", description="default postgresql://meterwatch:meterwatch@127.0.0.1:PG_PORT/meterwatch"
    )
    state_dir: Path = _REPO / ".state"

    @model_validator(mode="after")
    def _local_defaults(self) -> CommonSettings:
        if not self.kafka_bootstrap:
            self.kafka_bootstrap = f"127.0.0.1:{self.kafka_port}"
        if not self.database_url:
            self.database_url = (
                f"postgresql://meterwatch:meterwatch@127.0.0.1:{self.pg_port}/meterwatch"
            )
        return self


class IngestSettings(CommonSettings):
    """MQTT -> Kafka bridge."""

    mqtt_client_id: str = "meterwatch-ingest-1"
    mqtt_share_group: str = "meterwatch-ingest"
    mqtt_receive_maximum: int = Field(
        1000, ge=1, le=65535, description="QoS1 in-flight window the broker may use towards us"
    )
    mqtt_session_expiry_s: int = Field(3600, ge=0)
    linger_ms: int = Field(50, ge=1, description="longest a message waits for its batch")
    max_batch_messages: int = Field(1000, ge=1)
    max_payload_bytes: int = Field(1 << 20, ge=1024)
    max_future_s: int = Field(300, ge=0, description="tolerated clock lead of a reading")
    compression: str = "lz4"
    metrics_port: int = Field(
        9301,
        ge=0,
        le=65535,
        validation_alias="METERWATCH_INGEST_METRICS_PORT",
        description="0 = off",
    )


class StreamSettings(CommonSettings):
    """faust-streaming workers."""

    app_id: str = "meterwatch-stream"
    registry_file: Path | None = Field(
        None, description="the meter registry CSV (the format of `meterwatch registry import`)"
    )
    mpe_in_service: bool = Field(False, description="judge against in-service limits")
    state_flush_s: float = Field(
        30.0,
        ge=0,
        description="longest an area's changed state waits before it is stored; 0 = after "
        "every frame (a crash then loses the least, at a large cost in throughput)",
    )
    jurisdiction: str = Field("DE", description="whose in-service factor applies")
    worker_dir: Path = _REPO / ".state" / "faust"
    metrics_port: int = Field(
        9302,
        ge=0,
        le=65535,
        validation_alias="METERWATCH_STREAM_METRICS_PORT",
        description="0 = off",
    )


class StoreSettings(CommonSettings):
    """Kafka -> PostgreSQL writer."""

    writer_database_url: str = Field(
        "",
        description="the writer's own login (role meterwatch_writer, created by the migrations); "
        "default postgresql://meterwatch_writer:meterwatch_writer@127.0.0.1:PG_PORT/meterwatch",
    )
    consumer_group: str = "meterwatch-store"
    max_poll_frames: int = Field(100, ge=1, description="records (frames) per write batch")
    poll_timeout_ms: int = Field(500, ge=1)
    partition_days: int = Field(1, ge=1, description="width of a reading partition, in days")

    @model_validator(mode="after")
    def _writer_default(self) -> StoreSettings:
        if not self.writer_database_url:
            self.writer_database_url = (
                "postgresql://meterwatch_writer:meterwatch_writer"
                f"@127.0.0.1:{self.pg_port}/meterwatch"
            )
        return self

    metrics_port: int = Field(
        9303,
        ge=0,
        le=65535,
        validation_alias="METERWATCH_STORE_METRICS_PORT",
        description="0 = off",
    )
