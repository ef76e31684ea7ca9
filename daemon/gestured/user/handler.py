"""The state behind the user-gesture commands: one recording at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gestured.errors import GesturedError
from gestured.landmarks.base import Hand
from gestured.user.background import Background
from gestured.user.commands import Command, CommandError, parse_command
from gestured.user.model import UserModel
from gestured.user.recorder import Recorder, RecordResult
from gestured.user.store import UserStore

logger = logging.getLogger(__name__)

# reply(request_id, ok, message, data)
ReplyFunction = Callable[[str, bool, str, dict[str, Any]], None]


class CommandHandler:
    """Runs `record`, `delete` and `list` against a UserStore.

    handle() is called with each command (any thread); feed() and poll() by
    the one thread that processes frames. A finished recording is trained by
    `submit(job)`, which defaults to running the job at once; the daemon passes
    its worker queue so training never stalls the frame loop. A delete runs
    through `run_exclusive(job)` (default: `submit`), which must run jobs one
    at a time with training, so a training job that loaded the old model
    cannot save it back after the delete. Every new model
    goes to `on_model(family, model_or_None)`, which swaps it in.
    background_for(family) returns the base model's Background or None.
    """

    def __init__(
        self,
        store: UserStore,
        reply: ReplyFunction,
        *,
        background_for: Callable[[str], Background | None],
        on_model: Callable[[str, UserModel | None], None],
        progress: Callable[[dict[str, Any]], None] | None = None,
        submit: Callable[[Callable[[], None]], None] | None = None,
        run_exclusive: Callable[[Callable[[], None]], None] | None = None,
        families: tuple[str, ...] | None = None,
        motion_threshold: float | None = None,
    ) -> None:
        self.store = store
        self._reply = reply
        self._background_for = background_for
        self._on_model = on_model
        self._progress = progress
        self._submit = submit or (lambda job: job())
        self._run_exclusive = run_exclusive or self._submit
        self._families = families
        self._recorder_options = (
            {} if motion_threshold is None else {"motion_threshold": motion_threshold}
        )
        self._lock = threading.Lock()
        self._recorder: Recorder | None = None

    @property
    def recording(self) -> bool:
        with self._lock:
            return self._recorder is not None

    def handle(self, name: str, payload: bytes, properties: Any = None) -> None:
        """Validate and run one command; every outcome sends one reply."""
        request_id = ""
        try:
            command = parse_command(name, payload)
            request_id = command.request_id
            if command.name == "record":
                self._start_recording(command)
            elif command.name == "delete":
                self._delete(command)
            elif command.name == "list":
                self._list(command)
            else:
                raise CommandError(
                    f"{command.name} is not enabled on this device",
                    command.request_id,
                )
        except CommandError as exc:
            logger.warning(
                "Rejected %s command (request %s): %s", name, exc.request_id, exc
            )
            self._send(exc.request_id, False, str(exc))
        except Exception as exc:  # noqa: BLE001 - the caller must get a reply
            logger.exception("The %s command (request %s) failed", name, request_id)
            self._send(request_id, False, f"{name} failed: {exc}")

    def feed(
        self, hands: list[Hand], image_size: tuple[int, int], timestamp: float
    ) -> None:
        """Pass one frame to the running recording, if any."""
        with self._lock:
            recorder = self._recorder
        if recorder is not None:
            recorder.feed(hands, image_size, timestamp)

    def poll(self, now: float) -> None:
        """End a recording whose timeout passed even when no frames arrive."""
        with self._lock:
            recorder = self._recorder
        if recorder is not None:
            recorder.poll(now)

    def cancel(self, reason: str) -> None:
        with self._lock:
            recorder = self._recorder
        if recorder is not None:
            recorder.cancel(reason)

    def _start_recording(self, command: Command) -> None:
        request = command.record_request()
        if self._families is not None and request.family not in self._families:
            raise CommandError(
                f"family {request.family} has no base model loaded on this device; "
                f"record one of: {', '.join(self._families) or 'none'}",
                command.request_id,
            )
        recorder = Recorder(
            request,
            self.store.add_shard,
            self._recording_finished,
            self._progress,
            **self._recorder_options,
        )
        with self._lock:
            running = self._recorder
            if running is None:
                self._recorder = recorder
        if running is not None:
            raise CommandError(
                f"a recording is already running (request "
                f"{running.request.request_id or 'without id'}, label "
                f"{running.request.label}); wait for it to finish",
                command.request_id,
            )
        logger.info(
            "Recording %d samples of %s (%s, request %s)",
            request.samples,
            request.label,
            request.family,
            request.request_id,
        )

    def _recording_finished(self, result: RecordResult) -> None:
        with self._lock:
            self._recorder = None
        request = result.request
        data = {
            "label": request.label,
            "family": request.family,
            "collected": result.collected,
        }
        if not result.ok or result.shard is None:
            logger.warning(
                "Recording %s failed: %s", request.request_id, result.message
            )
            self._send(request.request_id, False, result.message, data)
            return
        shard = result.shard
        data["shard"] = shard.name

        def train() -> None:
            background = self._background_for(request.family)
            if background is None:
                message = (
                    f"{result.message}; no {request.family} base model with a "
                    "background set, so the user model was not trained"
                )
                self._send(request.request_id, True, message, data)
                return
            try:
                model = self.store.learn_shard(shard, background)
            except (GesturedError, ValueError) as exc:
                logger.error("Training on %s failed: %s", shard.name, exc)
                self._send(
                    request.request_id,
                    False,
                    f"recording saved but training failed: {exc}",
                    data,
                )
                return
            self._on_model(request.family, model)
            data["labels"] = model.labels
            self._send(request.request_id, True, result.message, data)

        self._submit(train)

    def _delete(self, command: Command) -> None:
        if self.recording:
            raise CommandError(
                "a recording is running; delete again when it has finished",
                command.request_id,
            )

        def delete() -> None:
            try:
                self._delete_now(command)
            except CommandError as exc:
                logger.warning(
                    "Rejected delete command (request %s): %s", exc.request_id, exc
                )
                self._send(exc.request_id, False, str(exc))
            except Exception as exc:  # noqa: BLE001 - the caller must get a reply
                logger.exception("Delete (request %s) failed", command.request_id)
                self._send(command.request_id, False, f"delete failed: {exc}")

        self._run_exclusive(delete)

    def _delete_now(self, command: Command) -> None:
        label = command.fields["label"]
        try:
            removed = self.store.delete_label(label)
        except GesturedError as exc:
            raise CommandError(f"delete failed: {exc}", command.request_id) from exc
        if not removed:
            raise CommandError(f"no samples of label {label}", command.request_id)
        for family in removed:
            background = self._background_for(family)
            if background is None:
                logger.warning("No %s background; user model left as it was", family)
                continue
            self._on_model(family, self.store.refit(family, background))
        logger.info("Deleted label %s (%s)", label, removed)
        self._send(
            command.request_id,
            True,
            f"deleted {sum(removed.values())} samples of {label}",
            {"label": label, "removed": removed},
        )

    def _list(self, command: Command) -> None:
        with self._lock:
            recorder = self._recorder
        running = None
        if recorder is not None:
            running = {
                "request_id": recorder.request.request_id,
                "label": recorder.request.label,
                "state": recorder.state,
                "collected": recorder.collected,
                "target": recorder.request.samples,
            }
        labels, invalid = self.store.scan()
        data = {"labels": labels, "recording": running, "invalid_shards": invalid}
        message = "ok"
        if invalid:
            message = (
                f"ok; skipped {len(invalid)} invalid shard(s): "
                f"{', '.join(sorted(invalid))}"
            )
        self._send(command.request_id, True, message, data)

    def _send(
        self,
        request_id: str,
        ok: bool,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._reply(request_id, ok, message, data or {})
