"""Assembling the daemon from the configuration: models, MQTT, user gestures."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from gestured.landmarks import BackendOptions
from gestured.runtime.config import Config, load_config
from gestured.runtime.daemon import Daemon, EventSink, build_recognizer
from gestured.runtime.decision import HybridDecider
from gestured.runtime.discovery import Discovery
from gestured.runtime.models import load_base_models
from gestured.runtime.mqtt import MqttLink
from gestured.runtime.notify import Notifier
from gestured.runtime.smoothing import SmoothingSettings
from gestured.runtime.sources import FrameSource
from gestured.runtime.updates import ModelUpdates, model_versions
from gestured.runtime.user_gestures import JobWorker, UserGestures

logger = logging.getLogger(__name__)


def backend_options(config: Config) -> BackendOptions:
    landmarks = config.landmarks
    return BackendOptions(
        video_mode=True,
        mirrored=config.source.mirrored,
        min_detection_confidence=landmarks.min_detection_confidence,
        min_tracking_confidence=landmarks.min_tracking_confidence,
        model_complexity=landmarks.model_complexity,
        task_path=str(landmarks.task_path) if landmarks.task_path else None,
    )


def smoothing_settings(config: Config) -> SmoothingSettings:
    return SmoothingSettings(
        stable_seconds=config.smoothing.stable_seconds,
        min_votes_fraction=config.smoothing.min_votes_fraction,
        rearm_seconds=config.smoothing.rearm_seconds,
    )


def frame_source(config: Config) -> FrameSource:
    source = config.source
    return FrameSource(
        source.uri,
        realtime=source.realtime,
        width=source.width,
        height=source.height,
        fps=source.fps,
        reopen_initial_delay=source.reopen_initial_delay,
        reopen_max_delay=source.reopen_max_delay,
        max_side=source.max_side,
    )


def build_daemon(
    config: Config,
    sink: EventSink,
    *,
    notifier: Any = None,
    stats_path: Path | None = None,
) -> tuple[Daemon, HybridDecider]:
    """Load the models and wire the recognition loop; nothing is opened yet."""
    families = list(config.models.families) if config.models.families else None
    models = load_base_models(
        config.models_dir,
        families,
        variant=config.models.variant,
        num_threads=config.models.num_threads,
        edgetpu=config.models.edgetpu,
    )
    decider = HybridDecider(
        models,
        base_threshold=config.models.base_threshold,
        user_threshold=config.models.user_threshold,
    )
    recognizer = build_recognizer(
        models,
        config.landmarks.backend,
        backend_options(config),
        config.landmarks.second_hand_probe_interval,
        decider,
    )
    daemon = Daemon(
        source=frame_source(config),
        recognizer=recognizer,
        sink=sink,
        smoothing=smoothing_settings(config),
        device_id=config.device_id,
        notifier=notifier,
        stats_path=stats_path,
    )
    return daemon, decider


def run_daemon(
    config: Config,
    config_path: Path | None,
    overrides: dict[str, str],
    *,
    stats_path: Path | None = None,
) -> int:
    """Run the daemon until SIGTERM, SIGINT or the end of a file source."""
    notifier = Notifier()
    link = MqttLink(config.mqtt, config.device_id, client_id=config.mqtt_client_id)
    updates = ModelUpdates(config, link) if config.update.url else None
    if updates is not None:
        config = dataclasses.replace(config, models_dir=updates.prepare())
    daemon, decider = build_daemon(
        config, link, notifier=notifier, stats_path=stats_path
    )
    worker = JobWorker()
    users = UserGestures(config, decider, link, worker)
    daemon.hooks.append(users.feed)

    def command(name: str, payload: bytes, properties: Any) -> None:
        if name == "update" and updates is not None:
            updates.handle_command(payload, properties)
        else:
            users.handle_command(name, payload, properties)

    link.on_command(command)
    discovery = None
    if config.mqtt.discovery:
        discovery = Discovery(link, config.mqtt.discovery_prefix)
        discovery.start()

    def announce() -> None:
        if discovery is not None:
            discovery.update_gestures(sorted(decider.labels()))
        if updates is not None:
            link.publish_retained("model", updates.status_payload())
            return
        # The same fields as with updates on, so that consumers parse one shape.
        status = {
            "version": None,
            "previous": None,
            "families": model_versions(decider),
        }
        link.publish_retained("model", json.dumps(status, sort_keys=True))

    users.on_swap = announce
    if updates is not None:
        updates.attach(daemon, decider, users.rebase, worker.submit)
    announce()
    link.start()
    if updates is not None:
        updates.start()

    def reload() -> None:
        new = load_config(config_path, overrides)
        daemon.set_smoothing(smoothing_settings(new))
        decider.base_threshold = new.models.base_threshold
        decider.user_threshold = new.models.user_threshold
        users.load_models()
        logger.info(
            "Applied thresholds and smoothing from %s and reloaded the user "
            "models; source, model and broker changes need a restart",
            config_path or "defaults",
        )

    daemon.on_reload = reload
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    finally:
        if updates is not None:
            updates.stop()
        users.handler.cancel("daemon stopping")
        worker.stop()
        link.stop()
        notifier.close()
