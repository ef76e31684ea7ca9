"""Reading untrusted `.npz` files: bounded unpacked sizes, never unpickling."""

from __future__ import annotations

import zipfile
from typing import IO

import numpy as np


def read_npz(
    handle: IO[bytes],
    where: str,
    *,
    error: type[Exception],
    max_member_bytes: int | None = None,
    max_total_bytes: int | None = None,
) -> dict[str, np.ndarray]:
    """Return every array of an open `.npz` file, loaded with allow_pickle=False.

    The zip directory is read first, so a member (or the whole archive) that
    would unpack beyond its limit raises `error` before anything is inflated.
    Zip and numpy errors propagate for the caller to wrap in its own message.
    """
    with zipfile.ZipFile(handle) as archive:
        members = archive.infolist()
    if max_member_bytes is not None:
        for info in members:
            if info.file_size > max_member_bytes:
                raise error(
                    f"{where}: member {info.filename} unpacks to "
                    f"{info.file_size} bytes, over the limit"
                )
    total = sum(info.file_size for info in members)
    if max_total_bytes is not None and total > max_total_bytes:
        raise error(f"{where}: unpacks to {total} bytes, more than {max_total_bytes}")
    handle.seek(0)
    with np.load(handle, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
