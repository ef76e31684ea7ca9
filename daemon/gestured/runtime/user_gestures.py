"""User gestures in the daemon: the job worker and the record/delete/list commands."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gestured.errors import GesturedError, ModelError
from gestured.runtime.config import Config
from gestured.runtime.decision import HybridDecider
from gestured.runtime.mqtt import MqttLink
from gestured.user.background import Background, load_background
from gestured.user.handler import CommandHandler
from gestured.user.store import UserStore

logger = logging.getLogger(__name__)


class JobWorker:
    """Runs training jobs one at a time off the frame and MQTT threads.

    `lock` is held while a job runs, so other threads (the updater refitting
    user models) can wait for the running job instead of racing it.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
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
                with self.lock:
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
        self._worker = worker
        self._share = config.user.share_samples and config.mqtt.enabled
        self._backgrounds: dict[str, Background | None] = {}
        self._models_dir = Path(config.models_dir)
        # MQTT 5 properties of pending requests, so that late replies (a
        # finished recording) still reach the request's response topic.
        self._properties: dict[str, Any] = {}
        self.on_swap: Callable[[], None] | None = None
        self.store = UserStore(Path(config.state_dir))
        self.load_models()
        self.handler = CommandHandler(
            self.store,
            self._reply,
            background_for=self._background,
            on_model=self._swap,
            progress=self._progress,
            submit=self._submit,
            run_exclusive=self._worker.submit,
            families=tuple(decider.models),
            motion_threshold=config.user.motion_threshold,
        )

    def load_models(self) -> None:
        """Load the saved user model of each family, as `gestured user` left it.

        A corrupt file is logged and that family runs on its base model alone.
        The load runs on the job worker's lock, so it never reads a model that
        a training job is writing.
        """
        with self._worker.lock:
            for family in self._decider.models:
                try:
                    model = self.store.load_model(family)
                except ModelError as exc:
                    logger.error(
                        "Ignoring the %s user model, running on the base model "
                        "alone: %s",
                        family,
                        exc,
                    )
                    model = None
                self._decider.set_user_model(family, model)
        if self.on_swap is not None:
            self.on_swap()

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

    def _submit(self, job: Callable[[], None]) -> None:
        # Jobs come from finished recordings, each of which wrote a new shard.
        self._worker.submit(job)
        if self._share:
            self._worker.submit(self._share_pending)

    def _share_pending(self) -> None:
        from gestured.ota.collect import share_pending

        count = share_pending(self._link, self.store.samples_dir)
        logger.info("Shared %d new recordings", count)

    def rebase(self, folder: Path) -> None:
        """Use the background sets of a new base model set; refit each user model."""
        with self._worker.lock:
            self._models_dir = Path(folder)
            self._backgrounds.clear()
            for family in self._decider.models:
                background = self._background(family)
                if background is None:
                    continue
                try:
                    model = self.store.refit(family, background)
                except (GesturedError, ValueError) as exc:
                    logger.error("Refitting the %s user model failed: %s", family, exc)
                    continue
                self._decider.set_user_model(family, model)
        if self.on_swap is not None:
            self.on_swap()

    def _reply(self, request_id: str | None, ok: bool, message: str, data: Any) -> None:
        properties = self._properties.get(request_id) if request_id else None
        self._link.reply(request_id, ok, message, data, properties)

    def _progress(self, update: dict[str, Any]) -> None:
        request_id = update.get("request_id")
        state = str(update.get("state", ""))
        self._reply(request_id, state != "failed", state, update)

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
    # Any error here is reported by the command handler's reply, so it is
    # not logged twice.
    try:
        value = json.loads(payload).get("request_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) else None
