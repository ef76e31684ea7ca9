"""Reading, writing and merging dataset shards.

A dataset is a folder of immutable shard files. Each shard is written once,
atomically (temporary file, fsync, link into place), so a crash leaves either
the whole shard or nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_write_bytes, remove_stale_temporaries
from gestured.dataset.schema import FAMILIES, SHARD_FIELDS, Samples, check_family
from gestured.errors import DatasetError
from gestured.npz import read_npz

logger = logging.getLogger(__name__)

SHARD_SUFFIX = ".npz"
# A shard from the network or a stranger is refused above these sizes.
MAX_SHARD_BYTES = 256 * 1024 * 1024
MAX_MEMBER_BYTES = 512 * 1024 * 1024
# The largest landmarks member plus the other per-sample fields of
# MAX_SAMPLES_PER_SHARD samples (at most 464 bytes each, about 89 MiB).
MAX_UNPACKED_BYTES = 640 * 1024 * 1024


def shard_bytes(samples: Samples) -> bytes:
    """Serialize `samples` to the bytes of a compressed `.npz` shard."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **samples.to_arrays())
    return buffer.getvalue()


def shard_name(family: str, created: float | None = None, tag: str = "") -> str:
    """Return a fresh, sortable file name for a shard of `family`.

    A `tag` (letters only) goes between the time stamp and the random part.
    """
    check_family(family)
    if tag and not tag.isalpha():
        raise ValueError(f"invalid shard name tag {tag!r}: use letters only")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(created or time.time()))
    middle = f"{stamp}-{tag}" if tag else stamp
    return f"{family}-{middle}-{uuid.uuid4().hex[:12]}{SHARD_SUFFIX}"


def is_shard_name(name: str, family: str | None = None) -> bool:
    """Return whether `name` is a shard file name: `<family>-<rest>.npz`.

    Only such names count as shards of a dataset folder, so other `.npz`
    files there (a backup, an export) are never read, deleted or shared.
    """
    families = FAMILIES if family is None else (family,)
    if not name.endswith(SHARD_SUFFIX):
        return False
    rest_length = len(name) - len(SHARD_SUFFIX)
    return any(
        name.startswith(f"{prefix}-") and rest_length > len(prefix) + 1
        for prefix in families
    )


def write_shard(directory: Path, samples: Samples, name: str | None = None) -> Path:
    """Write `samples` as a new shard in `directory` and return its path.

    An existing shard of the same name is never overwritten.
    """
    if len(samples) == 0:
        raise DatasetError("refusing to write an empty shard")
    directory = Path(directory)
    path = directory / (name or shard_name(samples.family))
    if path.suffix != SHARD_SUFFIX or path.parent != directory:
        raise DatasetError(f"invalid shard name {name!r}")
    try:
        atomic_write_bytes(path, shard_bytes(samples), overwrite=False)
    except FileExistsError as exc:
        raise DatasetError(f"{path}: shard already exists") from exc
    logger.info("Wrote shard %s with %d samples", path, len(samples))
    return path


def load_shard_bytes(
    data: bytes, where: str, max_unpacked_bytes: int | None = None
) -> Samples:
    """Validate and load a shard from bytes, such as a received MQTT payload.

    `max_unpacked_bytes` lowers the MAX_UNPACKED_BYTES limit for senders
    that only send small shards.
    """
    if len(data) > MAX_SHARD_BYTES:
        raise DatasetError(f"{where}: shard of {len(data)} bytes exceeds the limit")
    return _load(io.BytesIO(data), where, max_unpacked_bytes)


def load_shard(path: Path) -> Samples:
    """Validate and load one shard file, raising DatasetError naming the file."""
    path = Path(path)
    where = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise DatasetError(f"{where}: file not found") from exc
    if size > MAX_SHARD_BYTES:
        raise DatasetError(f"{where}: {size} bytes exceeds the shard size limit")
    with path.open("rb") as handle:
        return _load(handle, where)


def _load(
    handle: io.BufferedIOBase | io.BytesIO,
    where: str,
    max_unpacked_bytes: int | None = None,
) -> Samples:
    arrays = read_npz(
        handle,
        where,
        error=DatasetError,
        allowed=SHARD_FIELDS,
        max_member_bytes=MAX_MEMBER_BYTES,
        max_total_bytes=min(
            MAX_UNPACKED_BYTES, max_unpacked_bytes or MAX_UNPACKED_BYTES
        ),
    )
    return Samples.from_arrays(arrays, where)


def iter_shards(directory: Path, family: str | None = None) -> Iterator[Path]:
    """Yield the shard files of a dataset folder in name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: dataset folder not found")
    remove_stale_temporaries(directory)
    for path in sorted(directory.glob(f"*{SHARD_SUFFIX}")):
        if is_shard_name(path.name, family):
            yield path
        elif family is None:
            logger.warning("Ignoring %s: not a <family>-*.npz shard name", path)


def concatenate(parts: Iterable[Samples]) -> Samples:
    """Join samples of one family into one batch."""
    parts = [part for part in parts if len(part)]
    if not parts:
        raise DatasetError("no samples to join")
    family = parts[0].family
    for part in parts:
        if part.family != family:
            raise DatasetError(f"cannot join families {family} and {part.family}")
        if not np.array_equal(part.point_mask, parts[0].point_mask):
            raise DatasetError("cannot join samples with different point masks")

    def join(name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name) for part in parts])

    return Samples(
        family=family,
        landmarks=join("landmarks"),
        present=join("present"),
        handedness=join("handedness"),
        image_size=join("image_size"),
        labels=join("labels").astype(parts[0].labels.dtype),
        timestamps=join("timestamps"),
        sources=join("sources").astype(parts[0].sources.dtype),
        point_mask=parts[0].point_mask,
        has_z=all(part.has_z for part in parts),
    )


def sample_digests(samples: Samples) -> list[str]:
    """Return one content hash per sample; equal hashes mean exact duplicates."""
    digests = []
    for index in range(len(samples)):
        digest = hashlib.sha256()
        digest.update(samples.landmarks[index].tobytes())
        digest.update(samples.present[index].tobytes())
        digest.update(samples.handedness[index].tobytes())
        digest.update(samples.image_size[index].tobytes())
        digest.update(str(samples.labels[index]).encode())
        digests.append(digest.hexdigest())
    return digests


def merge(parts: Iterable[Samples]) -> Samples:
    """Concatenate samples and drop exact duplicates, keeping the first copy."""
    joined = concatenate(parts)
    seen: set[str] = set()
    keep = np.zeros(len(joined), dtype=bool)
    for index, digest in enumerate(sample_digests(joined)):
        if digest not in seen:
            seen.add(digest)
            keep[index] = True
    dropped = len(joined) - int(keep.sum())
    if dropped:
        logger.info("Dropped %d duplicate samples while merging", dropped)
    return joined.select(keep)


def load_dataset(directory: Path, family: str) -> Samples:
    """Load and merge every shard of `family` in a dataset folder."""
    paths = list(iter_shards(directory, family))
    if not paths:
        raise DatasetError(f"{directory}: no {family} shards found")
    return merge(load_shard(path) for path in paths)
