"""Assembling the daemon from the configuration: models, MQTT, user gestures."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gestured.errors import ModelError
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
from gestured.user.background import Background, load_background
from gestured.user.handler import CommandHandler
from gestured.user.store import UserStore

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


class JobWorker:
    """Runs training jobs one at a time off the frame and MQTT threads."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="jobs", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def stop(self, timeout: float = 30.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                logger.exception("Background job failed")


class UserGestures:
    """Loads the stored user models and serves the record/delete/list commands."""

    def __init__(
        self, config: Config, decider: HybridDecider, link: MqttLink, worker: JobWorker
    ) -> None:
        self._decider = decider
        self._link = link
        self._backgrounds: dict[str, Background | None] = {}
        self._models_dir = Path(config.models_dir)
        # MQTT 5 properties of pending requests, so that late replies (a
        # finished recording) still reach the request's response topic.
        self._properties: dict[str, Any] = {}
        self.store = UserStore(Path(config.state_dir))
        for family in decider.models:
            try:
                decider.set_user_model(family, self.store.load_model(family))
            except ModelError as exc:
                logger.error(
                    "Ignoring the %s user model, running on the base model alone: %s",
                    family,
                    exc,
                )
        self.handler = CommandHandler(
            self.store,
            self._reply,
            background_for=self._background,
            on_model=self._swap,
            progress=self._progress,
            submit=worker.submit,
            families=tuple(decider.models),
            motion_threshold=config.user.motion_threshold,
        )
        self.on_swap: Callable[[], None] | None = None

    def handle_command(self, name: str, payload: bytes, properties: Any) -> None:
        request_id = _request_id(payload)
        if request_id is not None and properties is not None:
            if len(self._properties) > 100:
                self._properties.clear()
            self._properties[request_id] = properties
        self.handler.handle(name, payload, properties)

    def feed(self, frame: Any, result: Any) -> None:
        now = time.monotonic()
        height, width = frame.image.shape[:2]
        self.handler.feed(result.hands, (width, height), now)
        self.handler.poll(now)

    def _reply(self, request_id: str | None, ok: bool, message: str, data: Any) -> None:
        properties = self._properties.get(request_id) if request_id else None
        self._link.reply(request_id, ok, message, data, properties)

    def _progress(self, update: dict[str, Any]) -> None:
        request_id = update.get("request_id")
        self._reply(request_id, True, str(update.get("state", "")), update)

    def _background(self, family: str) -> Background | None:
        if family not in self._backgrounds:
            try:
                self._backgrounds[family] = load_background(self._models_dir / family)
            except ModelError as exc:
                logger.error("No background set for %s: %s", family, exc)
                self._backgrounds[family] = None
        return self._backgrounds[family]

    def _swap(self, family: str, model: Any) -> None:
        self._decider.set_user_model(family, model)
        if self.on_swap is not None:
            self.on_swap()


def _request_id(payload: bytes) -> str | None:
    try:
        value = json.loads(payload).get("request_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


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
    daemon, decider = build_daemon(
        config, link, notifier=notifier, stats_path=stats_path
    )
    worker = JobWorker()
    users = UserGestures(config, decider, link, worker)
    daemon.hooks.append(users.feed)
    link.on_command(users.handle_command)
    discovery = None
    if config.mqtt.discovery:
        discovery = Discovery(link, config.mqtt.discovery_prefix)
        discovery.start()

    def announce() -> None:
        if discovery is not None:
            discovery.update_gestures(sorted(decider.labels()))
        versions = {family: model.version for family, model in decider.models.items()}
        link.publish_retained("model", json.dumps(versions, sort_keys=True))

    users.on_swap = announce
    announce()
    link.start()

    def reload() -> None:
        new = load_config(config_path, overrides)
        daemon.set_smoothing(smoothing_settings(new))
        decider.base_threshold = new.models.base_threshold
        decider.user_threshold = new.models.user_threshold
        logger.info(
            "Applied thresholds and smoothing from %s; source, model and broker "
            "changes need a restart",
            config_path or "defaults",
        )

    daemon.on_reload = reload
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    finally:
        users.handler.cancel("daemon stopping")
        worker.stop()
        link.stop()
        notifier.close()
