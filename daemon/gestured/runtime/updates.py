"""Signed model updates inside `gestured run`: store, updater, swaps, cmd/update.

With `update.url` set, the daemon runs its base models from the ModelStore
in `<state_dir>/models/`. On the first start the configured `models_dir`
(the packaged models) is copied in as version 0. Each installed update is
loaded, swapped into the running recognizer between two frames, and kept
only once the frame loop has processed frames on it without an error.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gestured.base_model import BaseModel
from gestured.dataset.schema import FAMILIES
from gestured.errors import ModelError
from gestured.ota.keys import load_public_key
from gestured.ota.store import ModelStore
from gestured.ota.updater import BUSY, INSTALLED, NOT_MODIFIED, UP_TO_DATE, Updater
from gestured.runtime.config import Config
from gestured.runtime.daemon import Daemon, build_recognizer
from gestured.runtime.decision import HybridDecider
from gestured.runtime.models import load_base_models
from gestured.runtime.mqtt import MqttLink
from gestured.runtime.pipeline import Recognizer
from gestured.user.commands import CommandError, parse_command

logger = logging.getLogger(__name__)

# Frames the loop must process on new models, without an error, to keep them.
HEALTHY_FRAMES = 10
OK_STATUSES = (INSTALLED, UP_TO_DATE, NOT_MODIFIED)


def adopt_packaged(store: ModelStore, models_dir: Path) -> Path:
    """Copy the family folders of `models_dir` into the store as version 0.

    Only family folders are copied, because the default `models_dir` is the
    store's own root, which also contains `versions/` and the store's links.
    """
    models_dir = Path(models_dir)
    families = [name for name in FAMILIES if (models_dir / name).is_dir()]
    if not families:
        raise ModelError(f"no model family folder in {models_dir} to start from")
    staging = store.staging_dir()
    try:
        for family in families:
            shutil.copytree(models_dir / family, staging / family, symlinks=False)
        store.install(staging, 0)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    store.activate(0)
    logger.info("Adopted the models in %s as model set version 0", models_dir)
    folder = store.current_folder()
    assert folder is not None
    return folder


class ModelUpdates:
    """The updater of one daemon and the swap of its running models."""

    def __init__(self, config: Config, link: MqttLink) -> None:
        update = config.update
        assert update.public_key is not None  # UpdateConfig checks this
        self.config = config
        self.link = link
        self.store = ModelStore(config.state_dir)
        self.updater = Updater(
            self.store,
            update.url,
            load_public_key(Path(update.public_key)),
            max_bundle_bytes=update.max_bundle_bytes,
            health_seconds=update.health_seconds,
            interval_days=update.interval_days,
            jitter_hours=update.jitter_hours,
            report=self._report,
            on_swapped=self._swapped,
            is_healthy=self._healthy,
        )
        self._daemon: Daemon | None = None
        self._decider: HybridDecider | None = None
        self._after_swap: Callable[[Path], None] | None = None
        self._submit: Callable[[Callable[[], None]], None] | None = None
        self._mark = (0, 0)
        self._pending_lock = threading.Lock()
        self._pending = False

    def prepare(self) -> Path:
        """Finish or undo an interrupted update; return the model folder to load."""
        self.updater.recover()
        folder = self.store.current_folder()
        if folder is None:
            folder = adopt_packaged(self.store, self.config.models_dir)
        logger.info(
            "Running model set version %s from %s", self.store.current_version(), folder
        )
        return folder

    def attach(
        self,
        daemon: Daemon,
        decider: HybridDecider,
        after_swap: Callable[[Path], None],
        submit: Callable[[Callable[[], None]], None],
    ) -> None:
        """Connect to the running daemon; `after_swap(folder)` refits user models."""
        self._daemon, self._decider = daemon, decider
        self._after_swap = after_swap
        self._submit = submit

    def status_payload(self) -> bytes:
        return self._with_families(self.updater.status_payload())

    def start(self) -> None:
        self.updater.start()

    def stop(self) -> None:
        self.updater.stop()

    # cmd/update ------------------------------------------------------------

    def handle_command(self, payload: bytes, properties: Any) -> None:
        """Validate cmd/update on paho's thread; the check runs on the job worker.

        While a check is queued or running, the command is answered at once
        with status "busy" instead of queueing another check.
        """
        try:
            command = parse_command("update", payload)
        except CommandError as exc:
            logger.warning("Rejected update command: %s", exc)
            self.link.reply(exc.request_id, False, str(exc), {}, properties)
            return
        assert self._submit is not None, "attach() first"
        # One check at a time is queued or running: each can take minutes
        # against a slow server, and a burst of commands would otherwise
        # hold the job worker, and the recordings behind it, for hours.
        with self._pending_lock:
            busy = self._pending
            self._pending = True
        if busy:
            logger.info("Update check already queued or running, command rejected")
            self.link.reply(
                command.request_id,
                False,
                "an update check is already queued or running",
                {"status": BUSY, "version": self.store.current_version(), "reason": ""},
                properties,
            )
            return
        try:
            self._submit(lambda: self._check(command.request_id, properties))
        except BaseException:
            self._clear_pending()
            raise

    def _clear_pending(self) -> None:
        with self._pending_lock:
            self._pending = False

    def _check(self, request_id: str, properties: Any) -> None:
        try:
            result = self.updater.check_now()
        finally:
            self._clear_pending()
        message = result.status + (f": {result.reason}" if result.reason else "")
        data = {
            "status": result.status,
            "version": result.version,
            "reason": result.reason,
        }
        self.link.reply(
            request_id, result.status in OK_STATUSES, message, data, properties
        )

    # Updater callbacks -----------------------------------------------------

    def _report(self, payload: bytes) -> None:
        self.link.publish_retained("model", self._with_families(payload))

    def _with_families(self, payload: bytes) -> bytes:
        # The running models name the families, as without updates: version 0
        # has no bundle record, and a record also lists untrained families.
        status = json.loads(payload)
        if self._decider is not None:
            status["families"] = model_versions(self._decider)
        return json.dumps(status, sort_keys=True).encode()

    def _healthy(self) -> bool:
        daemon = self._daemon
        if daemon is None:
            return False
        frames, errors = self._mark
        return (
            daemon.frame_errors == errors
            and daemon.healthy_frames - frames >= HEALTHY_FRAMES
        )

    def _swapped(self, folder: Path) -> None:
        """Load and swap in the set in `folder`; raising makes the updater roll back."""
        daemon, decider = self._daemon, self._decider
        if daemon is None or decider is None:
            # recover() at start can roll back before any model is loaded, and
            # the daemon then loads the store's current set, so nothing to swap.
            logger.debug("Model set %s becomes current before the daemon runs", folder)
            return
        models = self._load(folder)
        old = daemon.recognizer
        tracker = old.tracker
        if _max_hands(models) != tracker.max_hands:
            tracker = self._new_recognizer(models, decider).tracker
        recognizer = Recognizer(tracker, models, decider)
        changed = _labels(models) != _labels(decider.models)

        def swap() -> None:
            decider.models = models

        daemon.swap_recognizer(recognizer, swap, reset_debouncers=changed)
        self._mark = (daemon.healthy_frames, daemon.frame_errors)
        if tracker is not old.tracker:
            old.close()
        logger.info(
            "Swapped in the models of %s (%s)",
            folder,
            ", ".join(f"{f} {m.version}" for f, m in models.items()),
        )
        if self._after_swap is not None:
            self._after_swap(folder)

    def _load(self, folder: Path) -> dict[str, BaseModel]:
        settings = self.config.models
        return load_base_models(
            folder,
            list(settings.families) or None,
            variant=settings.variant,
            num_threads=settings.num_threads,
            edgetpu=settings.edgetpu,
        )

    def _new_recognizer(
        self, models: dict[str, BaseModel], decider: HybridDecider
    ) -> Recognizer:
        from gestured.runtime.service import backend_options

        return build_recognizer(
            models,
            self.config.landmarks.backend,
            backend_options(self.config),
            self.config.landmarks.second_hand_probe_interval,
            decider,
        )


def model_versions(decider: HybridDecider) -> dict[str, str]:
    """Return the version of each loaded base model, keyed by family."""
    return {family: model.version for family, model in decider.models.items()}


def _max_hands(models: dict[str, BaseModel]) -> int:
    return max(FAMILIES[family][1] for family in models)


def _labels(models: dict[str, BaseModel]) -> dict[str, list[str]]:
    return {family: list(model.labels) for family, model in models.items()}


__all__ = ["ModelUpdates", "adopt_packaged"]
