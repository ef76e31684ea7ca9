"""Reading untrusted `.npz` files: known names, bounded sizes, never unpickling.

Every check runs before the bytes of a member are allocated: the zip
directory first (names, compression, encryption, sizes), then the `.npy`
header of each member (dtype, shape). Any failure, including errors that
zipfile and numpy raise on malformed input, becomes the caller's error type
with the file named, so a hostile file can neither crash a caller that
catches its own error type nor make it allocate more than the limits.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Collection
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

NPY_SUFFIX = ".npy"
# Plain numbers, booleans and fixed-width unicode: every dtype gestured
# writes. Objects, structured records and raw bytes are never accepted.
ALLOWED_DTYPE_KINDS = frozenset("biufU")
MAX_HEADER_BYTES = 10_000
_SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED_FLAG = 0x1


def read_npz(
    handle: IO[bytes],
    where: str,
    *,
    error: type[Exception],
    allowed: Collection[str],
    max_member_bytes: int,
    max_total_bytes: int,
) -> dict[str, np.ndarray]:
    """Return the arrays of an open `.npz` file, keyed by member name.

    `allowed` lists the array names the caller's schema knows; any other
    member raises `error`, so no unknown data is unpacked or kept. Sizes are
    uncompressed bytes of each member and of all members together.
    """
    try:
        with zipfile.ZipFile(handle) as archive:
            members = _check_directory(
                archive.infolist(), where, error, allowed, max_member_bytes
            )
            total = sum(info.file_size for info in members)
            if total > max_total_bytes:
                raise error(
                    f"{where}: unpacks to {total} bytes, more than {max_total_bytes}"
                )
            return {
                info.filename[: -len(NPY_SUFFIX)]: _read_member(
                    archive, info, where, error
                )
                for info in members
            }
    except error:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser error means a bad file
        raise error(
            f"{where}: corrupt or unreadable .npz file "
            f"({type(exc).__name__}: {_shorten(str(exc))})"
        ) from exc


def _check_directory(
    members: list[zipfile.ZipInfo],
    where: str,
    error: type[Exception],
    allowed: Collection[str],
    max_member_bytes: int,
) -> list[zipfile.ZipInfo]:
    seen: set[str] = set()
    for info in members:
        name = info.filename
        key = name[: -len(NPY_SUFFIX)] if name.endswith(NPY_SUFFIX) else None
        if key is None or key not in allowed:
            raise error(f"{where}: unexpected member {_shorten(name)!r}")
        if key in seen:
            raise error(f"{where}: member {key} appears twice")
        seen.add(key)
        if info.flag_bits & _ENCRYPTED_FLAG:
            raise error(f"{where}: member {key} is encrypted")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise error(
                f"{where}: member {key} uses unsupported compression "
                f"method {info.compress_type}"
            )
        if info.file_size > max_member_bytes:
            raise error(
                f"{where}: member {key} unpacks to {info.file_size} bytes, "
                f"over the limit of {max_member_bytes}"
            )
    return members


def _read_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    where: str,
    error: type[Exception],
) -> np.ndarray:
    key = info.filename[: -len(NPY_SUFFIX)]
    with archive.open(info) as stream:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            header = npy_format.read_array_header_1_0(
                stream, max_header_size=MAX_HEADER_BYTES
            )
        elif version == (2, 0):
            header = npy_format.read_array_header_2_0(
                stream, max_header_size=MAX_HEADER_BYTES
            )
        else:
            raise error(f"{where}: member {key} has unsupported .npy version {version}")
        shape, fortran_order, dtype = header
        if dtype.hasobject or dtype.kind not in ALLOWED_DTYPE_KINDS:
            raise error(f"{where}: member {key} has disallowed dtype {dtype}")
        if any(not isinstance(side, int) or side < 0 for side in shape):
            raise error(f"{where}: member {key} has invalid shape {shape}")
        count = math.prod(shape)
        size = count * dtype.itemsize
        # The header says how much to allocate; the zip directory, already
        # checked against the limits, says how many bytes actually follow.
        if size > info.file_size:
            raise error(
                f"{where}: member {key} claims shape {_shorten(str(shape))} of "
                f"{size} bytes but holds {info.file_size}"
            )
        buffer = bytearray(size)
        view = memoryview(buffer)
        filled = 0
        while filled < size:
            read = stream.readinto(view[filled:])
            if not read:
                raise error(f"{where}: member {key} is truncated")
            filled += read
        # Reading to the end makes zipfile verify the member's CRC-32.
        if stream.read(1):
            raise error(f"{where}: member {key} has data after its array")
    order = "F" if fortran_order else "C"
    if size == 0:
        # frombuffer rejects zero-width dtypes such as an empty `<U0`.
        return np.empty(shape, dtype=dtype, order=order)
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape, order=order)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."
