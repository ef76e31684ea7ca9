"""`gestured data import kinivi|photos|video`: write dataset shards from recordings."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gestured.dataset import Samples, write_shard
from gestured.errors import DatasetError
from gestured.importers.common import (
    DYNAMIC_VOCABULARY,
    STATIC_VOCABULARY,
    parse_mapping,
)

logger = logging.getLogger(__name__)

_MAP_HELP = (
    "map a source label to a gesture name, SRC=DST; repeatable, overrides the "
    "default mapping"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="dataset tools")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    importer = actions.add_parser("import", help="import recordings as shards")
    kinds = importer.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True

    kinivi = kinds.add_parser(
        "kinivi", help="42-value keypoint CSV and/or 32-value point-history CSV"
    )
    kinivi.add_argument("--keypoints", type=Path, help="keypoint CSV")
    kinivi.add_argument("--keypoint-labels", type=Path, help="its class-name CSV")
    kinivi.add_argument("--history", type=Path, help="point-history CSV")
    kinivi.add_argument("--history-labels", type=Path, help="its class-name CSV")
    kinivi.add_argument(
        "--history-map",
        action="append",
        default=[],
        metavar="SRC=DST",
        help="like --map, for the point-history classes",
    )
    kinivi.set_defaults(handler=_import_kinivi)

    photos = kinds.add_parser("photos", help="photo folder and per-hand box CSV")
    photos.add_argument("folder", type=Path, help="folder of photos")
    photos.add_argument(
        "--labels", type=Path, help="box CSV (default FOLDER/../labels.csv)"
    )
    photos.add_argument(
        "--sequence",
        action="append",
        default=[],
        help="import only this capture sequence (name part before _pic); repeatable",
    )
    photos.set_defaults(handler=_import_photos)

    video = kinds.add_parser("video", help="video and per-frame ground-truth CSV")
    video.add_argument("video", type=Path, help="video file")
    video.add_argument(
        "--labels", type=Path, help="frame CSV (default: VIDEO with .csv)"
    )
    video.set_defaults(handler=_import_video)

    for sub in (kinivi, photos, video):
        sub.add_argument("--out", type=Path, required=True, help="dataset folder")
        sub.add_argument(
            "--map", action="append", default=[], metavar="SRC=DST", help=_MAP_HELP
        )


def _import_kinivi(args: argparse.Namespace) -> int:
    from gestured.importers import kinivi

    if not args.keypoints and not args.history:
        raise DatasetError("nothing to import: give --keypoints and/or --history")
    if args.keypoints:
        labels = args.keypoint_labels or args.keypoints.with_name(
            "keypoint_classifier_label.csv"
        )
        mapping = parse_mapping(
            args.map, kinivi.KEYPOINT_DEFAULT_MAP, STATIC_VOCABULARY
        )
        samples = kinivi.import_keypoints(args.keypoints, labels, mapping)
        _report(write_shard(args.out, samples), samples)
    if args.history:
        labels = args.history_labels or args.history.with_name(
            "point_history_classifier_label.csv"
        )
        mapping = parse_mapping(
            args.history_map, kinivi.HISTORY_DEFAULT_MAP, DYNAMIC_VOCABULARY
        )
        samples = kinivi.import_point_history(args.history, labels, mapping)
        _report(write_shard(args.out, samples), samples)
    return 0


def _import_photos(args: argparse.Namespace) -> int:
    from gestured.importers import photos

    mapping = parse_mapping(args.map, photos.PHOTOS_DEFAULT_MAP, STATIC_VOCABULARY)
    csv_path = args.labels or args.folder.parent / "labels.csv"
    sequences = set(args.sequence) or None

    def progress(index: int, total: int) -> None:
        if index % 100 == 0:
            logger.info("Photo %d of %d", index + 1, total)

    result, stats = photos.import_photos(
        args.folder, csv_path, mapping, sequences=sequences, progress=progress
    )
    logger.info(
        "Photos: %d read, %d hands found, %d hands matched no box (dropped), "
        "%d boxes without a hand, %d rows of unmapped labels, %d unreadable",
        stats.photos,
        stats.hands_found,
        stats.hands_unmatched,
        stats.boxes_without_hand,
        stats.skipped_rows,
        len(stats.unreadable),
    )
    if not result:
        raise DatasetError(f"{args.folder}: no hands matched a labelled box")
    for samples in result.values():
        _report(write_shard(args.out, samples), samples)
    return 0


def _import_video(args: argparse.Namespace) -> int:
    from gestured.importers import photos, video

    mapping = parse_mapping(args.map, photos.PHOTOS_DEFAULT_MAP, STATIC_VOCABULARY)
    csv_path = args.labels or args.video.with_suffix(".csv")
    samples, stats = video.import_video(args.video, csv_path, mapping)
    logger.info(
        "Video: %d frames, %d samples, %d labelled frames without a hand, "
        "%d rows skipped (two hands or unmapped label)",
        stats.frames,
        stats.samples,
        stats.frames_without_hand,
        stats.skipped_rows,
    )
    if samples is None:
        raise DatasetError(f"{args.video}: no labelled frame had a hand")
    _report(write_shard(args.out, samples), samples)
    return 0


def _report(path: Path, samples: Samples) -> None:
    print(f"{path}\t{samples.family}\t{len(samples)} samples")
