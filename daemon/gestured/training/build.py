"""Rebuild the committed base model from the raw recordings with one command.

    python -m gestured.training.build --data-root DATA --out models

imports the keypoint CSV, the labelled photos and the training video into a
temporary dataset folder and trains the static one-hand model from it.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from gestured.dataset import write_shard
from gestured.errors import DatasetError
from gestured.importers import kinivi, photos, video
from gestured.importers.common import STATIC_VOCABULARY, parse_mapping
from gestured.training.static_single import (
    TrainOptions,
    TrainResult,
    train_static_single,
)

logger = logging.getLogger(__name__)

# The videos join the photo sequences, so only the one made of training
# sequences is imported; the other two replay the held-out sequences.
TRAINING_VIDEOS = ("counting-a",)
HELDOUT_VIDEOS = ("counting-b", "counting-c")


def import_all(data_root: Path, dataset: Path) -> None:
    """Import every training and held-out source below `data_root` into `dataset`."""
    keypoints = data_root / "kinivi" / "keypoint.csv"
    hands = data_root / "handsdataset"
    for needed in (keypoints, hands / "labels.csv", hands / "images"):
        if not needed.exists():
            raise DatasetError(f"{needed}: not found below the data root {data_root}")
    static_map = parse_mapping([], kinivi.KEYPOINT_DEFAULT_MAP, STATIC_VOCABULARY)
    samples = kinivi.import_keypoints(
        keypoints, keypoints.with_name("keypoint_classifier_label.csv"), static_map
    )
    write_shard(dataset, samples)
    logger.info("Finding hands in the photos, which takes a minute or two")
    result, stats = photos.import_photos(
        hands / "images", hands / "labels.csv", photos.PHOTOS_DEFAULT_MAP
    )
    logger.info(
        "Photos: %d hands matched, %d unmatched hands dropped, %d boxes without hand",
        stats.hands_found - stats.hands_unmatched,
        stats.hands_unmatched,
        stats.boxes_without_hand,
    )
    for family_samples in result.values():
        write_shard(dataset, family_samples)
    for name in TRAINING_VIDEOS:
        path = hands / "videos" / f"{name}.mp4"
        samples_or_none, _ = video.import_video(
            path, path.with_suffix(".csv"), photos.PHOTOS_DEFAULT_MAP
        )
        if samples_or_none is not None:
            write_shard(dataset, samples_or_none)


def build(
    data_root: Path,
    out: Path,
    *,
    epochs: int = 40,
    verbose: int = 1,
    exclude_labels: tuple[str, ...] = (),
) -> TrainResult:
    with tempfile.TemporaryDirectory(prefix="gestured-dataset-") as scratch:
        dataset = Path(scratch)
        import_all(Path(data_root), dataset)
        return train_static_single(
            TrainOptions(
                dataset=dataset,
                out=Path(out),
                exclude_sources=HELDOUT_VIDEOS,
                exclude_labels=exclude_labels,
                epochs=epochs,
                verbose=verbose,
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    result = build(args.data_root, args.out, epochs=args.epochs)
    print(f"{result.folder}: held-out top-1 {result.heldout_top1:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
