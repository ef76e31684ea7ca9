"""Export and import of a user's recordings as one `.npz` bundle.

A bundle stores, for each family with samples, the shard arrays of all its
samples under keys `<family>.<field>`, plus `bundle_format` and `families`.
An imported bundle is validated like any shard and written as new shards.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_write_bytes
from gestured.dataset.schema import FAMILIES, SHARD_FIELDS, Samples
from gestured.dataset.shards import (
    MAX_MEMBER_BYTES,
    MAX_SHARD_BYTES,
    MAX_UNPACKED_BYTES,
)
from gestured.errors import DatasetError
from gestured.npz import read_npz
from gestured.user.model import check_user_label
from gestured.user.store import UserStore

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
BUNDLE_FIELDS = frozenset(
    {"bundle_format", "families"}
    | {f"{family}.{field}" for family in FAMILIES for field in SHARD_FIELDS}
)


def export_bundle(store: UserStore, path: Path) -> dict[str, int]:
    """Write every sample in `store` to `path`; return the sample count per family."""
    arrays: dict[str, np.ndarray] = {"bundle_format": np.int32(BUNDLE_FORMAT)}
    counts = {}
    for family in FAMILIES:
        samples = store.load_samples(family)
        if samples is None:
            continue
        counts[family] = len(samples)
        for key, value in samples.to_arrays().items():
            arrays[f"{family}.{key}"] = value
    if not counts:
        raise DatasetError(f"{store.samples_dir}: no recordings to export")
    arrays["families"] = np.array(sorted(counts), dtype="<U16")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(Path(path), buffer.getvalue())
    logger.info("Exported %s to %s", counts, path)
    return counts


def read_bundle(path: Path) -> list[Samples]:
    """Load and validate a bundle file; raise DatasetError naming any problem."""
    path = Path(path)
    where = str(path)
    try:
        if path.stat().st_size > MAX_SHARD_BYTES:
            raise DatasetError(f"{where}: bundle larger than {MAX_SHARD_BYTES} bytes")
        with path.open("rb") as handle:
            # A bundle joins the shards of up to four families, so it gets
            # the per-shard limits, not four times them.
            arrays = read_npz(
                handle,
                where,
                error=DatasetError,
                allowed=BUNDLE_FIELDS,
                max_member_bytes=MAX_MEMBER_BYTES,
                max_total_bytes=MAX_UNPACKED_BYTES,
            )
    except FileNotFoundError as exc:
        raise DatasetError(f"{where}: file not found") from exc
    except OSError as exc:
        raise DatasetError(f"{where}: unreadable bundle ({exc})") from exc
    version = arrays.get("bundle_format")
    if (
        version is None
        or version.shape != ()
        or version.dtype.kind not in "iu"
        or int(version) != BUNDLE_FORMAT
    ):
        raise DatasetError(f"{where}: not a gestured user bundle (format 1)")
    families = arrays.get("families")
    if families is None or families.ndim != 1 or families.dtype.kind != "U":
        raise DatasetError(f"{where}: missing list of families")
    if len(set(families.tolist())) != len(families):
        raise DatasetError(f"{where}: families lists a family more than once")
    result = []
    for family in families.tolist():
        if family not in FAMILIES:
            raise DatasetError(f"{where}: unknown family {family!r}")
        prefix = f"{family}."
        fields = {
            key[len(prefix) :]: value
            for key, value in arrays.items()
            if key.startswith(prefix)
        }
        samples = Samples.from_arrays(fields, f"{where} [{family}]")
        if samples.family != family:
            raise DatasetError(f"{where}: {family} entry holds {samples.family}")
        for label in np.unique(samples.labels).tolist():
            try:
                check_user_label(label)
            except DatasetError as exc:
                raise DatasetError(f"{where}: {exc}") from exc
        result.append(samples)
    return result


def import_bundle(store: UserStore, path: Path) -> list[Path]:
    """Validate a bundle fully, then add its samples as new shards."""
    parts = read_bundle(path)
    written = [
        store.add_shard(samples, imported=True) for samples in parts if len(samples)
    ]
    logger.info("Imported %d shard(s) from %s", len(written), path)
    return written
