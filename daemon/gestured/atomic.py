"""Crash-safe file writes: a reader sees the old file or the new one, never a part."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so that a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(
    path: Path, *, overwrite: bool = True, mode: int = 0o644
) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces `path` only after a clean exit.

    The data goes to a temporary file in the same directory, is fsynced and is
    renamed over `path`. With `overwrite=False` an existing `path` raises
    FileExistsError, which keeps immutable files immutable. `mode` replaces the
    0600 that mkstemp gives, so a service user can read what root installed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            # link() fails when the target exists, unlike rename().
            os.link(tmp, path)
            tmp.unlink()
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = True) -> None:
    """Write `data` to `path` atomically."""
    with atomic_open(path, overwrite=overwrite) as handle:
        handle.write(data)


def atomic_write_with(
    path: Path, writer: Callable[[IO[bytes]], None], *, overwrite: bool = True
) -> None:
    """Call `writer` on a temporary file and move the result to `path` atomically."""
    with atomic_open(path, overwrite=overwrite) as handle:
        writer(handle)


def remove_stale_temporaries(directory: Path) -> int:
    """Delete temporary files that a killed writer left behind; return the count."""
    removed = 0
    if not directory.is_dir():
        return 0
    for leftover in directory.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            removed += 1
    return removed
