"""Train the static one-hand base model from a dataset folder into a model folder."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gestured.base_model import BaseModel
from gestured.dataset import load_dataset
from gestured.dataset.schema import Samples, check_label
from gestured.errors import DatasetError
from gestured.features import features_for
from gestured.importers.common import STATIC_VOCABULARY
from gestured.training import card, folder
from gestured.training.augment import augment
from gestured.training.keras_model import fit, to_tflite

logger = logging.getLogger(__name__)

FAMILY = "static_single"
# Capture sequences kept out of training for the held-out score. The first is
# also the sequence that the daemon's end-to-end video test plays back.
DEFAULT_HELDOUT = ("1528664299.56", "3_1528499009.07")
BACKGROUND_PER_CLASS = 50
REPRESENTATIVE_ROWS = 500


@dataclass
class TrainOptions:
    dataset: Path
    out: Path
    heldout_sources: tuple[str, ...] = DEFAULT_HELDOUT
    exclude_sources: tuple[str, ...] = ()
    exclude_labels: tuple[str, ...] = ()
    epochs: int = 40
    seed: int = 7
    members: int = 5
    version: str = field(default_factory=lambda: time.strftime("%Y%m%d") + ".1")
    verbose: int = 1


@dataclass
class TrainResult:
    folder: Path
    labels: list[str]
    train_samples: int
    heldout_samples: int
    heldout_top1: float
    heldout_top1_int8: float
    seconds: float


def _source_kind(source: str) -> str:
    return source.split(":", 1)[0] if ":" in source else "photos/video"


def _count(samples: Samples) -> dict[str, int]:
    return dict(Counter(samples.labels.tolist()))


def split(samples: Samples, options: TrainOptions) -> tuple[Samples, Samples]:
    """Split by source: held-out sequences, excluded ones dropped, rest trains."""
    labels_ok = ~np.isin(samples.labels, list(options.exclude_labels))
    sources = samples.sources
    heldout = np.isin(sources, list(options.heldout_sources))
    excluded = np.isin(sources, list(options.exclude_sources))
    train = samples.select(labels_ok & ~heldout & ~excluded)
    test = samples.select(labels_ok & heldout)
    return train, test


def train_static_single(options: TrainOptions) -> TrainResult:
    """Train, export float32 and int8 TFLite, evaluate and write the model folder."""
    started = time.monotonic()
    for label in options.exclude_labels:
        check_label(label)
    samples = load_dataset(options.dataset, FAMILY)
    train, test = split(samples, options)
    present = set(train.labels.tolist())
    labels = [label for label in STATIC_VOCABULARY if label in present]
    labels += sorted(present - set(labels))
    if len(labels) < 2:
        raise DatasetError(f"{options.dataset}: need at least two labels to train")
    if len(test) == 0:
        raise DatasetError(
            f"{options.dataset}: no samples from the held-out sources "
            f"{', '.join(options.heldout_sources)}"
        )
    kinds = Counter(_source_kind(source) for source in train.sources.tolist())
    split_text = (
        "By capture sequence, never by frame. Held out: sequences "
        f"{', '.join(options.heldout_sources)} (photos). "
        + (
            f"Excluded from training: {', '.join(options.exclude_sources)}. "
            if options.exclude_sources
            else ""
        )
        + "Training samples by source: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        + "."
        + (
            f" Labels left out: {', '.join(options.exclude_labels)}."
            if options.exclude_labels
            else ""
        )
    )
    result = train_samples(
        train, test, labels, Path(options.out) / FAMILY, options, split_text
    )
    folder.write_stubs(Path(options.out), options.version, FAMILY)
    result.seconds = time.monotonic() - started
    return result


def train_samples(
    train: Samples,
    test: Samples,
    labels: list[str],
    out: Path,
    options: TrainOptions,
    split_text: str,
) -> TrainResult:
    """Train on `train`, score on `test`, write the model folder `out`.

    `labels` fixes the output order and may name labels `train` lacks.
    The retrain on the update server calls this with its own split.
    """
    started = time.monotonic()
    index = {label: position for position, label in enumerate(labels)}
    test = test.select(np.isin(test.labels, labels))
    features = features_for(train)
    targets = np.array([index[label] for label in train.labels.tolist()])
    rng = np.random.default_rng(options.seed)
    augmented, augmented_targets = augment(features, targets, rng)
    logger.info(
        "Training on %d samples (%d after augmentation), %d held out, labels %s",
        len(train),
        len(augmented),
        len(test),
        ", ".join(labels),
    )
    model = fit(
        augmented,
        augmented_targets,
        len(labels),
        epochs=options.epochs,
        seed=options.seed,
        members=options.members,
        verbose=options.verbose,
    )
    out.mkdir(parents=True, exist_ok=True)
    from gestured.atomic import atomic_write_bytes

    atomic_write_bytes(out / "model.tflite", to_tflite(model))
    representative = rng.permutation(augmented)[:REPRESENTATIVE_ROWS]
    atomic_write_bytes(out / "model_int8.tflite", to_tflite(model, representative))
    background = folder.balanced_background(
        features, train.labels, BACKGROUND_PER_CLASS, options.seed
    )
    atomic_write_bytes(
        out / folder.BACKGROUND_NAME, folder.background_bytes(*background)
    )
    manifest = folder.base_manifest(FAMILY, options.version, labels)
    manifest["files"] = {
        "float32": folder.file_entry(out, "model.tflite"),
        "int8": folder.file_entry(out, "model_int8.tflite"),
    }
    manifest["background"] = folder.file_entry(out, folder.BACKGROUND_NAME)
    folder.write_manifest(out, manifest)

    test_features = features_for(test)
    truth = np.array([index[label] for label in test.labels.tolist()], dtype=np.int64)
    evaluations = {}
    for variant in ("float32", "int8"):
        loaded = BaseModel.load(out, variant=variant)
        predicted = loaded.predict_proba(test_features).argmax(axis=1)
        evaluations[variant] = card.Evaluation.of(labels, truth, predicted)
    top1 = evaluations["float32"].top1
    manifest["scores"] = {
        "heldout_top1": round(top1, 4),
        "heldout_top1_int8": round(evaluations["int8"].top1, 4),
        "heldout_samples": len(test),
    }
    counts = {"train": _count(train), "held-out": _count(test)}
    training_text = (
        f"Average of {options.members} Keras MLPs 42-64-32-{len(labels)}, each "
        f"trained {options.epochs} epochs with class-balanced weights from seed "
        f"{options.seed} up. Each training hand is also used "
        "mirrored, and rotated by up to 15 degrees with landmark noise. The int8 "
        f"model is quantized with {REPRESENTATIVE_ROWS} training vectors."
    )
    card.write_card(
        out,
        family=FAMILY,
        version=options.version,
        counts=counts,
        split=split_text,
        evaluation=evaluations["float32"],
        int8_top1=evaluations["int8"].top1,
        training=training_text,
    )
    folder.write_manifest(out, manifest)
    result = TrainResult(
        folder=out,
        labels=labels,
        train_samples=len(train),
        heldout_samples=len(test),
        heldout_top1=top1,
        heldout_top1_int8=evaluations["int8"].top1,
        seconds=time.monotonic() - started,
    )
    logger.info(
        "Held-out top-1 %.3f (float32), %.3f (int8) on %d samples",
        result.heldout_top1,
        result.heldout_top1_int8,
        result.heldout_samples,
    )
    return result
