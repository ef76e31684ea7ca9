"""Assembling a Daemon from the configuration, and applying a reloaded one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gestured.landmarks import BackendOptions
from gestured.runtime.config import Config, load_config
from gestured.runtime.daemon import Daemon, base_decision, build_recognizer
from gestured.runtime.events import EventSink, StdoutSink
from gestured.runtime.models import load_base_models
from gestured.runtime.smoothing import SmoothingSettings
from gestured.runtime.sources import FrameSource

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
    )


def build_daemon(
    config: Config,
    *,
    sink: EventSink | None = None,
    notifier: Any = None,
    stats_path: Path | None = None,
) -> Daemon:
    """Load models, open nothing yet, and wire the recognition loop."""
    families = list(config.models.families) if config.models.families else None
    models = load_base_models(
        config.models_dir,
        families,
        variant=config.models.variant,
        num_threads=config.models.num_threads,
        edgetpu=config.models.edgetpu,
    )
    recognizer = build_recognizer(
        models,
        config.landmarks.backend,
        backend_options(config),
        config.landmarks.second_hand_probe_interval,
        base_decision(models, config.models.base_threshold),
    )
    return Daemon(
        source=frame_source(config),
        recognizer=recognizer,
        sink=sink or StdoutSink(),
        smoothing=smoothing_settings(config),
        device_id=config.device_id,
        notifier=notifier,
        stats_path=stats_path,
    )


def reload_settings(
    daemon: Daemon, path: Path | None, overrides: dict[str, str]
) -> Config:
    """Re-read the configuration and apply what can change without a restart.

    Thresholds and smoothing take effect at once. Changing the source, the
    models or the broker needs a restart, which a log line says.
    """
    config = load_config(path, overrides)
    daemon.set_smoothing(smoothing_settings(config))
    models = daemon.recognizer.models
    daemon.recognizer.decide = base_decision(models, config.models.base_threshold)
    logger.info("Applied reloaded settings from %s", path or "defaults")
    return config
