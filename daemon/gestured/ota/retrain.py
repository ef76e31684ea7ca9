"""The monthly retrain: base data + collected shards -> new models -> a bundle.

Per family, collected samples whose label is in the base vocabulary are
merged in. A new label joins the vocabulary only when at least
`min_devices` devices recorded it, because a label from one home is a
personal gesture that belongs in that home's user model. The merged data
is split by source (recording session), never by sample. The current and
the new model are scored on the same held-out part, on the labels the
current model knows, and the bundle is published only when the new model
is not worse.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gestured.base_model import BaseModel, read_manifest
from gestured.dataset.schema import FAMILIES, SOURCE_MAX_LENGTH, Samples
from gestured.dataset.shards import iter_shards, load_shard, merge
from gestured.errors import DatasetError, GesturedError, ModelError
from gestured.features import features_for
from gestured.ota.bundle import publish_bundle, published_version
from gestured.ota.collect import DEVICE_ID_PATTERN
from gestured.ota.store import ModelStore

logger = logging.getLogger(__name__)

# train_fn(samples_train, samples_val, labels, out_dir) writes a model folder.
TrainFn = Callable[[Samples, Samples, list[str], Path], object]
VAL_PERCENT = 20


@dataclass
class FamilyReport:
    family: str
    labels: list[str]
    joined: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # label -> devices
    train_samples: int = 0
    val_samples: int = 0
    current_accuracy: float | None = None
    new_accuracy: float | None = None
    accepted: bool = False


def load_collected(collected_dir: Path, family: str) -> list[tuple[str, Samples]]:
    """Return (device id, samples) of every valid collected shard of `family`."""
    parts = []
    root = Path(collected_dir)
    if not root.is_dir():
        return parts
    for device_dir in sorted(root.iterdir()):
        if not device_dir.is_dir() or not DEVICE_ID_PATTERN.fullmatch(device_dir.name):
            continue
        for path in iter_shards(device_dir, family):
            try:
                parts.append((device_dir.name, load_shard(path)))
            except DatasetError as exc:
                logger.warning("Skipping collected shard: %s", exc)
    return parts


def _with_device_sources(device: str, samples: Samples) -> Samples:
    # Two homes may both name a session "session-1": keep them apart in splits.
    sources = np.array(
        [f"{device}/{s}"[:SOURCE_MAX_LENGTH] for s in samples.sources.tolist()],
        dtype=samples.sources.dtype,
    )
    return Samples(**{**samples.__dict__, "sources": sources})


def merge_family(
    base: Samples | None,
    base_labels: list[str],
    collected: list[tuple[str, Samples]],
    min_devices: int,
) -> tuple[Samples, list[str], list[str], dict[str, int]]:
    """Return merged samples, the vocabulary, joined labels and dropped labels."""
    devices_per_label: dict[str, set[str]] = {}
    for device, samples in collected:
        for label in set(samples.labels.tolist()):
            devices_per_label.setdefault(label, set()).add(device)
    vocabulary = list(base_labels)
    joined = sorted(
        label
        for label, devices in devices_per_label.items()
        if label not in vocabulary and len(devices) >= min_devices
    )
    vocabulary += joined
    dropped = {
        label: len(devices)
        for label, devices in devices_per_label.items()
        if label not in vocabulary
    }
    parts = [] if base is None else [base]
    for device, samples in collected:
        keep = np.isin(samples.labels, vocabulary)
        if keep.any():
            parts.append(_with_device_sources(device, samples.select(keep)))
    if not parts:
        raise DatasetError("no samples to train on")
    merged = merge(parts)
    merged = merged.select(np.isin(merged.labels, vocabulary))
    return merged, vocabulary, joined, dropped


def split_by_source(
    samples: Samples, val_percent: int = VAL_PERCENT
) -> tuple[Samples, Samples]:
    """Split into train and held-out parts by a stable hash of each source."""
    sources = sorted(set(samples.sources.tolist()))
    held = {
        s
        for s in sources
        if int(hashlib.sha256(s.encode()).hexdigest(), 16) % 100 < val_percent
    }
    if not held and len(sources) > 1:
        held = {sources[0]}
    if len(held) == len(sources):
        held.discard(sources[0])
    in_val = np.isin(samples.sources, list(held))
    return samples.select(~in_val), samples.select(in_val)


def accuracy(folder: Path, samples: Samples, labels: list[str]) -> float | None:
    """Return top-1 accuracy of a model folder on samples labelled within `labels`."""
    keep = np.isin(samples.labels, labels)
    if not keep.any():
        return None
    model = BaseModel.load(folder)
    subset = samples.select(keep)
    predicted = model.predict_proba(features_for(subset)).argmax(axis=1)
    names = np.array(model.labels)[predicted]
    return float((names == subset.labels).mean())


def retrain_family(
    family: str,
    base_dir: Path | None,
    collected_dir: Path,
    current: Path | None,
    out_dir: Path,
    train_fn: TrainFn,
    min_devices: int,
    tolerance: float = 0.0,
) -> FamilyReport | None:
    """Merge, train and score one family; None when it has no data at all."""
    base = None
    if base_dir is not None and any(iter_shards(base_dir, family)):
        base = merge(load_shard(path) for path in iter_shards(base_dir, family))
    current_labels: list[str] = []
    trained_current = None
    if current is not None and (current / "manifest.json").is_file():
        manifest = read_manifest(current)
        current_labels = list(manifest["labels"])
        trained_current = current if manifest["files"] else None
    base_labels = list(current_labels)
    if base is not None:
        base_labels += sorted(set(base.labels.tolist()) - set(base_labels))
    collected = load_collected(collected_dir, family)
    if base is None and not collected:
        return None
    merged, labels, joined, dropped = merge_family(
        base, base_labels, collected, min_devices
    )
    train, val = split_by_source(merged)
    report = FamilyReport(family, labels, joined, dropped, len(train), len(val))
    if not len(train) or not len(val):
        raise DatasetError(f"{family}: too few sources to hold some out")
    train_fn(train, val, labels, out_dir)
    known = current_labels or labels
    report.new_accuracy = accuracy(out_dir, val, known)
    if trained_current is not None:
        report.current_accuracy = accuracy(trained_current, val, known)
    report.accepted = report.current_accuracy is None or (
        report.new_accuracy is not None
        and report.new_accuracy >= report.current_accuracy - tolerance
    )
    logger.info(
        "%s: current %s, new %s on %d held-out samples, joined %s, dropped %s",
        family,
        report.current_accuracy,
        report.new_accuracy,
        len(val),
        joined,
        dropped,
    )
    return report


def retrain(
    base_dir: Path | None,
    collected_dir: Path,
    server_state: Path,
    private_key: Path,
    bundle_dir: Path,
    train_fn: TrainFn,
    *,
    min_devices: int = 3,
    tolerance: float = 0.0,
    expires_days: float = 60,
) -> tuple[int | None, list[FamilyReport]]:
    """Retrain every family with data; publish a bundle if none got worse.

    `server_state` contains the published model sets as a ModelStore, so the
    new set becomes the current one that next month's run compares with.
    Returns the published bundle version, or None, and the family reports.
    """
    if min_devices < 1:
        raise ValueError(f"min_devices must be at least 1, got {min_devices}")
    store = ModelStore(server_state)
    current = store.current_folder()
    reports = []
    with tempfile.TemporaryDirectory(dir=store.root) as work:
        new_set = Path(work) / "set"
        for family in FAMILIES:
            family_current = None if current is None else current / family
            report = retrain_family(
                family,
                base_dir,
                collected_dir,
                family_current,
                new_set / family,
                train_fn,
                min_devices,
                tolerance,
            )
            if report is None:
                if family_current is not None and family_current.is_dir():
                    shutil.copytree(family_current, new_set / family)
                continue
            reports.append(report)
        if not reports:
            raise GesturedError("no base data and no collected shards to train on")
        worse = [r.family for r in reports if not r.accepted]
        if worse:
            logger.warning("Not publishing: new model worse for %s", ", ".join(worse))
            return None, reports
        version = max(published_version(bundle_dir), store.current_version() or 0) + 1
        try:
            publish_bundle(
                new_set, private_key, bundle_dir, version, expires_days=expires_days
            )
        except ModelError as exc:
            raise GesturedError(f"publishing failed: {exc}") from exc
        store.install(new_set, version)
        store.activate(version)
    return version, reports
