"""The faust-streaming application over ``meterwatch.readings``.

Frames are the events (one Kafka message = many readings of one area); per-area detector
state lives in the ``area_state`` table, whose changelog has the source topic's partition
count. Processing is at-least-once: a frame's estimates and events are awaited until Kafka
acknowledged them before its state is stored and the agent moves on, so the stored state
never passes an undelivered event; replays re-emit identical event ids. The worker keeps
live per-area objects and stores their snapshot when a frame emitted events or closed a
day, or ``state_flush_s`` after the last snapshot. Agent concurrency stays 1
(faust-streaming #606).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import faust

from meterwatch.domain import TOPIC_ESTIMATES, TOPIC_EVENTS, TOPIC_READINGS, TOPIC_READINGS_DLQ
from meterwatch.errors import CodecError, MeterwatchError
from meterwatch.frame_codec import decode_frame
from meterwatch.settings import StreamSettings
from stream import metrics
from stream.area_worker import AreaWorker
from stream.registry import RegistryBook

log = logging.getLogger(__name__)


def create_app(settings: StreamSettings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.worker_dir),
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        web_enabled=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
    )

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(
            name,
            partitions=settings.kafka_partitions,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    readings = raw_topic(TOPIC_READINGS)
    events_topic = raw_topic(TOPIC_EVENTS)
    dlq = raw_topic(TOPIC_READINGS_DLQ)
    estimates_topic = raw_topic(TOPIC_ESTIMATES)
    registry = (
        RegistryBook.from_csv(
            settings.registry_file,
            in_service=settings.mpe_in_service,
            jurisdiction=settings.jurisdiction,
        )
        if settings.registry_file
        else None
    )
    log.info("registry: %s areas", len(registry) if registry else "no")
    area_state = app.Table(
        "area_state",
        default=dict,
        partitions=settings.kafka_partitions,
    )  # keys and values use Faust's table default, JSON: a snapshot is plain data

    # Live per-area objects; the table gets their snapshot right after a frame that emitted
    # events (so an episode is never reported twice) or closed a day, and otherwise
    # state_flush_s after the last one, not after every frame: a snapshot is hundreds of KB.
    # After a crash the worker resumes from the table and the committed offsets; readings of
    # the open day it may miss in between are bridged (registers are cumulative), which can
    # shift that day's evidence slightly; re-emitted estimates are absorbed by the store.
    workers: dict[str, AreaWorker] = {}
    persisted: dict[str, float] = {}

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    def forget_areas(_sender: object, *_args: object, **_kwargs: object) -> None:
        """Another worker may own these areas next: re-read their state from the table."""
        workers.clear()
        persisted.clear()

    @app.agent(readings, concurrency=1)
    async def assess_frames(stream: Any) -> None:
        async for event in stream.events():
            started = time.monotonic()
            try:
                frame = decode_frame(event.value)
                worker = workers.get(frame.area_key)
                if worker is None:  # first frame of this area since the worker started
                    stored = area_state.get(frame.area_key) or None
                    worker = AreaWorker(frame.utility, frame.area, registry, state=stored)
                    workers[frame.area_key] = worker
                result = worker.process(frame)
            except MeterwatchError as exc:  # a bad frame must not crash-loop the agent
                reason = "corrupt_frame" if isinstance(exc, CodecError) else "processing_error"
                log.warning("frame to the DLQ (%s): %s", reason, exc)
                metrics.DEAD_LETTERS.labels(reason).inc()
                headers = {
                    "reason": reason.encode(),
                    "detail": str(exc).encode()[:1000],
                    "source_topic": TOPIC_READINGS.encode(),
                }
                await (await dlq.send(key=event.key, value=event.value, headers=headers))
                continue
            # Output first, state second: a crash in between replays the frame against the
            # old state and re-emits the same ids; never a state that moved on without them.
            pending = []
            if result.estimates:
                body = {"utility": frame.utility, "area": frame.area, "estimates": result.estimates}
                value = json.dumps(body, separators=(",", ":")).encode()
                pending.append(await estimates_topic.send(key=frame.area_key.encode(), value=value))
                metrics.ESTIMATES.inc(len(result.estimates))
            for cloud_event in result.events:
                value = json.dumps(cloud_event, separators=(",", ":")).encode()
                key = cloud_event["subject"].encode()
                pending.append(await events_topic.send(key=key, value=value))
                metrics.EVENTS.labels(cloud_event["type"]).inc()
            await asyncio.gather(*pending)  # delivered (acks=all) before the state moves on
            now = time.monotonic()
            due = now - persisted.get(frame.area_key, 0.0) > settings.state_flush_s
            if result.events or result.residuals or due:  # residuals: a block closed
                area_state[frame.area_key] = worker.snapshot()
                persisted[frame.area_key] = now
            metrics.FRAMES.inc()
            metrics.READINGS.inc(len(frame))
            metrics.FRAME_SECONDS.observe(time.monotonic() - started)

    return app


def run_worker(settings: StreamSettings) -> None:
    """Run one worker until SIGTERM/SIGINT (Faust installs the signal handlers)."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel="INFO", quiet=True)
    worker.execute_from_commandline()
