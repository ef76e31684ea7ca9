"""Model versions side by side on a device, switched by atomic symlink swaps.

Layout under `<state_dir>/models/`:

- `versions/<version>/<family>/...`: complete model sets; a version folder
  appears by a rename of a fully written and fsynced staging folder;
- `current` and `previous`: relative symlinks to `versions/<version>`, each
  replaced by making a symlink under a temporary name and `os.replace`-ing it,
  so a reader, or a process killed at any instruction, sees the old link or
  the new one and both point at complete folders;
- `trial`: the version under its health check, present only during one.

Only the versions that `current` and `previous` name are kept. Every change
holds an flock on `.lock`, so the daemon and a command line tool cannot
interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from gestured.atomic import atomic_write_bytes, fsync_dir

logger = logging.getLogger(__name__)

BUNDLE_RECORD = "bundle-manifest.json"
TEMP_PREFIXES = (".staging-", ".trash-", ".link-", ".install-")


class StoreError(RuntimeError):
    """A store operation that the store's state does not allow."""


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(folder)


class ModelStore:
    """The versions of the model set on one device."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "models"
        self.versions = self.root / "versions"
        self.versions.mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.RLock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    # Reading ------------------------------------------------------------

    def _link_version(self, name: str) -> int | None:
        try:
            target = os.readlink(self.root / name)
        except FileNotFoundError:
            return None
        return int(Path(target).name)

    def current_version(self) -> int | None:
        return self._link_version("current")

    def previous_version(self) -> int | None:
        return self._link_version("previous")

    def current_folder(self) -> Path | None:
        """Return the folder of the active model set, None before the first one."""
        version = self.current_version()
        return None if version is None else self.versions / str(version)

    def version_folder(self, version: int) -> Path:
        return self.versions / str(int(version))

    def installed_versions(self) -> list[int]:
        return sorted(
            int(path.name) for path in self.versions.iterdir() if path.name.isdigit()
        )

    # Changing -----------------------------------------------------------

    def staging_dir(self) -> Path:
        """Return a new empty folder on the store's file system for a download."""
        path = self.root / f".staging-{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def install(self, bundle_dir: Path, version: int | None = None) -> Path:
        """Move or copy a complete model set into `versions/<version>`.

        A folder made by `staging_dir` is renamed into place; any other is
        copied first. `version` defaults to the one in its bundle record.
        """
        bundle_dir = Path(bundle_dir)
        if version is None:
            record = json.loads((bundle_dir / BUNDLE_RECORD).read_bytes())
            version = int(record["version"])
        if isinstance(version, bool) or int(version) < 0:
            raise ValueError(f"invalid model set version {version!r}")
        target = self.version_folder(version)
        with self._locked():
            if target.exists():
                if version == self.current_version():
                    raise StoreError(f"version {version} is active, not reinstalling")
                self._remove(target)
            if bundle_dir.parent != self.root:
                copy = self.root / f".install-{uuid.uuid4().hex}"
                shutil.copytree(bundle_dir, copy, symlinks=False)
                bundle_dir = copy
            _fsync_tree(bundle_dir)
            os.rename(bundle_dir, target)
            fsync_dir(self.versions)
        logger.info("Installed model set version %d", version)
        return target

    def _point(self, name: str, version: int) -> None:
        temp = self.root / f".link-{name}-{uuid.uuid4().hex}"
        os.symlink(f"versions/{int(version)}", temp)
        os.replace(temp, self.root / name)
        fsync_dir(self.root)

    def activate(self, version: int) -> Path:
        """Make `version` current; the version it replaces becomes previous."""
        with self._locked():
            target = self.version_folder(version)
            if not target.is_dir():
                raise StoreError(f"model set version {version} is not installed")
            old = self.current_version()
            if old == version:
                return target
            # previous first: a kill between the two steps leaves both links on
            # the old version, which is still a complete model set.
            if old is not None:
                self._point("previous", old)
            self._point("current", version)
            self._prune()
        logger.info("Activated model set version %d (previous %s)", version, old)
        return target

    def rollback(self) -> Path:
        """Make the previous version current again and return its folder."""
        with self._locked():
            old = self.current_version()
            previous = self.previous_version()
            if previous is None or not self.version_folder(previous).is_dir():
                raise StoreError("no previous model set to roll back to")
            self._point("current", previous)
            if old is not None and old != previous:
                self._point("previous", old)
            self._clear_trial()
        logger.warning("Rolled back model set from %s to %d", old, previous)
        return self.version_folder(previous)

    def adopt(self, folder: Path, version: int = 0) -> Path:
        """Copy a model set (such as the packaged one) in and activate it if none is."""
        if self.current_folder() is None:
            self.install(folder, version)
            self.activate(version)
        folder = self.current_folder()
        assert folder is not None
        return folder

    # Health trial -------------------------------------------------------

    def begin_trial(self, version: int) -> None:
        atomic_write_bytes(self.root / "trial", str(int(version)).encode())

    def trial_version(self) -> int | None:
        try:
            return int((self.root / "trial").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def end_trial(self) -> None:
        with self._locked():
            self._clear_trial()

    def _clear_trial(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / "trial").unlink()

    # Cleaning -----------------------------------------------------------

    def _remove(self, path: Path) -> None:
        # A rename first, so a kill during rmtree leaves a `.trash-` folder that
        # the next cleanup removes, never a half-deleted version folder.
        trash = self.root / f".trash-{uuid.uuid4().hex}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _prune(self) -> None:
        keep = {self.current_version(), self.previous_version()}
        for version in self.installed_versions():
            if version not in keep:
                self._remove(self.version_folder(version))
                logger.info("Removed old model set version %d", version)

    def cleanup(self) -> None:
        """Remove leftovers of killed operations and versions no link names."""
        with self._locked():
            for path in self.root.iterdir():
                if path.name.startswith(TEMP_PREFIXES):
                    if path.is_symlink() or path.is_file():
                        path.unlink()
                    else:
                        shutil.rmtree(path, ignore_errors=True)
            self._prune()
