"""The updater: fetch, verify, validate, swap and health-check a model bundle.

`check_now()` runs one update check and never raises: every failure ends in
an UpdateResult with status "failed" and one log line naming the reason,
while the models that were active keep serving.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gestured.atomic import atomic_write_bytes
from gestured.ota import keys
from gestured.ota.fetch import (
    FetchError,
    NotModified,
    Timeouts,
    check_url,
    download,
    get_bytes,
)
from gestured.ota.manifest import (
    MANIFEST_FILE,
    MAX_MANIFEST_BYTES,
    SIGNATURE_FILE,
    BundleManifest,
    ManifestError,
    parse_manifest,
)
from gestured.ota.store import BUNDLE_RECORD, ModelStore, StoreError
from gestured.ota.validate import validate_staged

logger = logging.getLogger(__name__)

STATE_FILE = "update-state.json"
MAX_SIGNATURE_BYTES = 1024
DEFAULT_MAX_BUNDLE_BYTES = 32 * 1024 * 1024
HEALTH_POLL_SECONDS = 0.5


class UpdateRejected(Exception):  # noqa: N818 (a result, reported not raised)
    """A bundle that was refused; the message is the reason."""


@dataclass(frozen=True)
class UpdateResult:
    """Outcome of one check: status is one of the STATUS_* strings."""

    status: str
    version: int | None
    reason: str = ""


NOT_MODIFIED = "not_modified"
UP_TO_DATE = "up_to_date"
INSTALLED = "installed"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
BUSY = "busy"


class Updater:
    """Checks an update URL and swaps the model set in a ModelStore.

    report(payload) publishes the retained model status (JSON bytes);
    on_swapped(folder) makes the daemon load the model set in `folder` and
    refit user models (it is called again with the old folder on rollback);
    is_healthy() tells whether the daemon runs fine on the new models.
    `swap_lock` is held while the store switches versions and on_swapped runs.
    """

    def __init__(
        self,
        store: ModelStore,
        url: str,
        public_key: str | Ed25519PublicKey,
        *,
        max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
        health_seconds: float = 60.0,
        interval_days: float = 30.0,
        jitter_hours: float = 48.0,
        timeouts: Timeouts | None = None,
        report: Callable[[bytes], None] | None = None,
        on_swapped: Callable[[Path], None] | None = None,
        is_healthy: Callable[[], bool] | None = None,
        swap_lock: threading.Lock | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        base = check_url(url)
        self.manifest_url = (
            base
            if base.endswith(".json")
            else urllib.parse.urljoin(base.rstrip("/") + "/", MANIFEST_FILE)
        )
        self.public_key = (
            public_key
            if isinstance(public_key, Ed25519PublicKey)
            else keys.parse_public_key(public_key)
        )
        self.store = store
        self.max_bundle_bytes = int(max_bundle_bytes)
        self.health_seconds = float(health_seconds)
        self.interval_seconds = float(interval_days) * 86400
        self.jitter_seconds = float(jitter_hours) * 3600
        self.timeouts = timeouts or Timeouts()
        self.report = report
        self.on_swapped = on_swapped
        self.is_healthy = is_healthy
        self.swap_lock = swap_lock or threading.Lock()
        self.clock = clock
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # State kept across restarts ------------------------------------------

    def _state_path(self) -> Path:
        return self.store.root / STATE_FILE

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self._state_path().read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save_state(self, **changes: Any) -> None:
        state = self._load_state()
        state.update(changes)
        atomic_write_bytes(self._state_path(), json.dumps(state).encode())

    # One check -----------------------------------------------------------

    def check_now(self) -> UpdateResult:
        """Run one update check; never raises, logs the outcome."""
        if not self._busy.acquire(blocking=False):
            logger.info("Update check already running, skipped")
            return UpdateResult(BUSY, self.store.current_version())
        try:
            result = self._check()
        except UpdateRejected as exc:
            result = UpdateResult(FAILED, self.store.current_version(), str(exc))
        except Exception as exc:  # the caller's loop must survive any bug here
            logger.exception("Update check crashed")
            result = UpdateResult(FAILED, self.store.current_version(), repr(exc))
        finally:
            self._busy.release()
        self._save_state(last_check=self.clock())
        if result.status == FAILED:
            logger.error("Update from %s failed: %s", self.manifest_url, result.reason)
        else:
            logger.info("Update check: %s, version %s", result.status, result.version)
        return result

    def _check(self) -> UpdateResult:
        state = self._load_state()
        try:
            manifest_response = get_bytes(
                self.manifest_url, MAX_MANIFEST_BYTES, self.timeouts, state.get("etag")
            )
        except NotModified:
            return UpdateResult(NOT_MODIFIED, self.store.current_version())
        except FetchError as exc:
            raise UpdateRejected(f"manifest download failed: {exc}") from None
        signature_url = urllib.parse.urljoin(self.manifest_url, SIGNATURE_FILE)
        try:
            signature = get_bytes(signature_url, MAX_SIGNATURE_BYTES, self.timeouts)
        except (FetchError, NotModified) as exc:
            raise UpdateRejected(f"signature download failed: {exc}") from None
        raw = manifest_response.body
        if not keys.verify(self.public_key, raw, signature.body):
            raise UpdateRejected("manifest signature is invalid for the configured key")
        try:
            manifest = parse_manifest(raw)
        except ManifestError as exc:
            raise UpdateRejected(f"signed manifest is invalid: {exc}") from None
        current = self.store.current_version()
        if current is not None and manifest.version <= current:
            self._save_state(etag=manifest_response.etag)
            return UpdateResult(UP_TO_DATE, current, f"offered {manifest.version}")
        if manifest.version in state.get("bad_versions", []):
            raise UpdateRejected(f"version {manifest.version} failed before, skipped")
        now = self.clock()
        if manifest.expires <= now:
            raise UpdateRejected(
                f"manifest version {manifest.version} expired at {manifest.expires}"
            )
        folder = self._stage(manifest, signature.body)
        result = self._swap(manifest, folder)
        self._save_state(etag=manifest_response.etag)
        return result

    def _stage(self, manifest: BundleManifest, signature: bytes) -> Path:
        """Download and validate every file into a staging folder."""
        # The limit is for the whole bundle: checked before the first
        # download, so a bundle of many files that each fit is refused too.
        total = len(manifest.raw) + sum(
            item.size for entry in manifest.families.values() for item in entry.files
        )
        if total > self.max_bundle_bytes:
            raise UpdateRejected(
                f"bundle of {total} bytes exceeds max_bundle_bytes "
                f"{self.max_bundle_bytes}"
            )
        staging = self.store.staging_dir()
        try:
            for family, entry in manifest.families.items():
                (staging / family).mkdir()
                for item in entry.files:
                    url = urllib.parse.urljoin(self.manifest_url, item.name)
                    try:
                        download(
                            url,
                            staging / family / item.install_as,
                            item.size,
                            item.sha256,
                            self.timeouts,
                        )
                    except FetchError as exc:
                        raise UpdateRejected(f"download failed: {exc}") from None
            problem = validate_staged(staging, manifest)
            if problem:
                self._mark_bad(manifest.version)
                raise UpdateRejected(problem)
            atomic_write_bytes(staging / BUNDLE_RECORD, manifest.raw)
            atomic_write_bytes(staging / SIGNATURE_FILE, signature)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging

    def _mark_bad(self, version: int) -> None:
        bad = [v for v in self._load_state().get("bad_versions", []) if v != version]
        self._save_state(bad_versions=[*bad[-9:], version])

    # Swap and health -----------------------------------------------------

    def _swap(self, manifest: BundleManifest, staging: Path) -> UpdateResult:
        version = manifest.version
        try:
            self.store.install(staging, version)
        except (OSError, StoreError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise UpdateRejected(f"install failed: {exc}") from None
        with self.swap_lock:
            self.store.begin_trial(version)
            folder = self.store.activate(version)
            try:
                if self.on_swapped:
                    self.on_swapped(folder)
            except Exception as exc:
                logger.error("Loading model set %d failed: %s", version, exc)
                return self._roll_back(version, f"loading failed: {exc}")
        self._publish_status()
        if not self._wait_healthy():
            return self._roll_back(
                version, f"not healthy within {self.health_seconds:g} s"
            )
        self.store.end_trial()
        return UpdateResult(INSTALLED, version)

    def _wait_healthy(self) -> bool:
        if self.is_healthy is None:
            return True
        deadline = time.monotonic() + self.health_seconds
        while True:
            try:
                if self.is_healthy():
                    return True
            except Exception as exc:
                logger.warning("Health callback failed: %s", exc)
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            self._stop.wait(HEALTH_POLL_SECONDS)

    def _roll_back(self, version: int, reason: str) -> UpdateResult:
        self._mark_bad(version)
        with self.swap_lock:
            try:
                folder = self.store.rollback()
            except StoreError as exc:
                # The very first model set has nothing to go back to.
                raise UpdateRejected(f"version {version} {reason}, {exc}") from None
            if self.on_swapped:
                try:
                    self.on_swapped(folder)
                except Exception as exc:
                    logger.error("Reloading rolled-back model set failed: %s", exc)
        self._publish_status()
        logger.error("Rolled back model set version %d: %s", version, reason)
        return UpdateResult(ROLLED_BACK, self.store.current_version(), reason)

    def recover(self) -> None:
        """Clean up after a crash; roll back a version whose health trial never ended.

        Call once at start, before the daemon loads its models: a trial still
        open means the daemon died while running a new model set.
        """
        self.store.cleanup()
        trial = self.store.trial_version()
        if trial is not None and trial == self.store.current_version():
            try:
                self._roll_back(trial, "daemon stopped during its health check")
            except UpdateRejected as exc:
                logger.error("Cannot roll back after restart: %s", exc)
                self.store.end_trial()
        elif trial is not None:
            self.store.end_trial()

    def status_payload(self) -> bytes:
        """Return the retained `model` topic payload for the active model set."""
        version = self.store.current_version()
        families: dict[str, str] = {}
        folder = self.store.current_folder()
        if folder is not None and (folder / BUNDLE_RECORD).is_file():
            try:
                record = parse_manifest((folder / BUNDLE_RECORD).read_bytes())
                families = {
                    name: entry.model_version for name, entry in record.families.items()
                }
            except (OSError, ManifestError) as exc:
                logger.warning("Cannot read bundle record of %s: %s", folder, exc)
        payload = {
            "version": version,
            "previous": self.store.previous_version(),
            "families": families,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return json.dumps(payload, sort_keys=True).encode()

    def _publish_status(self) -> None:
        if self.report is None:
            return
        try:
            self.report(self.status_payload())
        except Exception as exc:
            logger.warning("Publishing the model status failed: %s", exc)

    # Schedule ------------------------------------------------------------

    def next_delay(self) -> float:
        """Return seconds until the next scheduled check, jittered per check."""
        last = self._load_state().get("last_check")
        due = (
            0.0
            if last is None
            else max(0.0, last + self.interval_seconds - self.clock())
        )
        return due + random.uniform(0.0, self.jitter_seconds)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("updater already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="updater", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            delay = self.next_delay()
            logger.info("Next model update check in %.1f h", delay / 3600)
            if self._stop.wait(delay):
                return
            self.check_now()
