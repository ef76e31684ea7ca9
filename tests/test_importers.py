"""Importers on the real recordings, and their input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gestured.dataset import load_shard, write_shard
from gestured.errors import DatasetError
from gestured.features import FINGERTIP, features_for
from gestured.importers import kinivi, photos, video
from gestured.importers.common import (
    STATIC_VOCABULARY,
    parse_mapping,
    read_csv_rows,
    safe_child,
)
from real_data import data_root


def test_kinivi_keypoints_full(tmp_path: Path) -> None:
    folder = data_root() / "kinivi"
    samples = kinivi.import_keypoints(
        folder / "keypoint.csv",
        folder / "keypoint_classifier_label.csv",
        kinivi.KEYPOINT_DEFAULT_MAP,
    )
    assert len(samples) == 4787
    counts = dict(zip(*np.unique(samples.labels, return_counts=True), strict=True))
    assert counts == {"five": 1522, "fist": 1572, "one": 1356, "ok": 337}
    assert not samples.has_z
    assert (samples.image_size == 1).all()
    # Rows are already hand-shape features, so features equal the CSV values.
    first = np.loadtxt(folder / "keypoint.csv", delimiter=",", max_rows=1)[1:]
    assert np.allclose(features_for(samples)[0], first, atol=1e-6)
    sources = samples.sources.tolist()
    assert sources[0] == "kinivi:keypoint:block0000"
    assert len(set(sources)) >= 48
    loaded = load_shard(write_shard(tmp_path, samples))
    assert np.array_equal(loaded.landmarks, samples.landmarks)


def test_kinivi_point_history_full() -> None:
    folder = data_root() / "kinivi"
    samples = kinivi.import_point_history(
        folder / "point_history.csv",
        folder / "point_history_classifier_label.csv",
        kinivi.HISTORY_DEFAULT_MAP,
    )
    assert samples.family == "dynamic_single"
    assert len(samples) == 5296
    assert set(samples.labels.tolist()) == {
        "stop",
        "clockwise",
        "counter_clockwise",
        "move",
    }
    assert samples.point_mask.sum() == 1
    assert samples.point_mask[FINGERTIP]
    others = np.delete(samples.landmarks, FINGERTIP, axis=3)
    assert not others.any()
    assert features_for(samples).shape == (5296, 32)


def test_keypoint_wrong_column_count(tmp_path: Path) -> None:
    csv_path = tmp_path / "keypoint.csv"
    good = "0," + ",".join(["0.1"] * 42)
    csv_path.write_text(f"{good}\n{good}\n0,0.1,0.2\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("\ufeffOpen\nClose\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"keypoint\.csv:3: expected 43 columns"):
        kinivi.import_keypoints(csv_path, labels, kinivi.KEYPOINT_DEFAULT_MAP)


def test_keypoint_unknown_class_id(tmp_path: Path) -> None:
    csv_path = tmp_path / "keypoint.csv"
    csv_path.write_text("7," + ",".join(["0.1"] * 42) + "\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("Open\n")
    with pytest.raises(DatasetError, match="class id 7"):
        kinivi.import_keypoints(csv_path, labels, kinivi.KEYPOINT_DEFAULT_MAP)


def test_class_names_skip_byte_order_mark(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_bytes("\ufeffOpen\r\nClose\r\n".encode())
    assert [row for _, row in read_csv_rows(labels, 1)] == [["Open"], ["Close"]]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("Open=wave", "not in the vocabulary"),
        ("Open=../five", "invalid label"),
        ("Open=", "invalid label"),
        ("Open", "expected SRC=DST"),
    ],
)
def test_mapping_rejects_bad_labels(pair: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        parse_mapping([pair], kinivi.KEYPOINT_DEFAULT_MAP, STATIC_VOCABULARY)


def test_mapping_overrides_default() -> None:
    mapping = parse_mapping(
        ["OK=three"], kinivi.KEYPOINT_DEFAULT_MAP, STATIC_VOCABULARY
    )
    assert mapping["OK"] == "three"
    assert mapping["Open"] == "five"


@pytest.mark.parametrize(
    "name", ["../labels.csv", "/etc/passwd", "a/b.jpg", "..", "", "x\\..\\y.jpg"]
)
def test_photo_names_must_stay_in_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(DatasetError):
        safe_child(tmp_path, name)


def test_photo_csv_with_path_trick(tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        ",".join(photos.PHOTO_HEADER) + "\n../secret.jpg,800,600,1,1,1,10,10\n"
    )
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match="plain file name"):
        photos.import_photos(tmp_path / "images", csv_path, photos.PHOTOS_DEFAULT_MAP)


def test_sequence_of_photo_names() -> None:
    assert photos.sequence_of("1528664299.56_pic00012.jpg") == "1528664299.56"
    assert photos.sequence_of("3_1528499009.07_pic00000.jpg") == "3_1528499009.07"
    assert photos.sequence_of("2_pic00012.jpg") == "2"


@pytest.mark.slow
def test_photos_one_sequence() -> None:
    hands = data_root() / "handsdataset"
    result, stats = photos.import_photos(
        hands / "images",
        hands / "labels.csv",
        photos.PHOTOS_DEFAULT_MAP,
        sequences={"3_1528499009.07"},
    )
    samples = result["static_single"]
    assert stats.photos == 66
    assert len(samples) >= 60
    assert stats.hands_unmatched == 0
    assert set(samples.sources.tolist()) == {"3_1528499009.07"}
    assert set(samples.labels.tolist()) <= set(STATIC_VOCABULARY)
    assert (samples.image_size == (800, 600)).all()
    assert np.isin(samples.handedness, (0, 1)).all()
    assert "static_double" not in result


@pytest.mark.slow
def test_video_counting_c(tmp_path: Path) -> None:
    videos = data_root() / "handsdataset" / "videos"
    samples, stats = video.import_video(
        videos / "counting-c.mp4", videos / "counting-c.csv", photos.PHOTOS_DEFAULT_MAP
    )
    assert samples is not None
    assert stats.frames == 66
    assert 50 <= len(samples) <= 66
    assert set(samples.sources.tolist()) == {"counting-c"}
    assert (samples.image_size == (640, 480)).all()
    assert samples.has_z
    assert len(load_shard(write_shard(tmp_path, samples))) == len(samples)


def test_video_csv_two_hand_rows_skipped(tmp_path: Path) -> None:
    csv_path = tmp_path / "frames.csv"
    csv_path.write_text(
        "frame,time_s,source_image,hands,fingers\n"
        "0,0.0,a.jpg,1,5\n1,0.1,b.jpg,2,0+5\n2,0.2,c.jpg,1,3\n"
    )
    stats = video.VideoStats()
    labels = video.read_frame_labels(csv_path, photos.PHOTOS_DEFAULT_MAP, stats)
    assert labels == {0: ("five", 0.0), 2: ("three", 0.2)}
    assert stats.skipped_rows == 1


def test_video_csv_wrong_header(tmp_path: Path) -> None:
    csv_path = tmp_path / "frames.csv"
    csv_path.write_text("frame,time,image,hands,fingers\n0,0.0,a.jpg,1,5\n")
    with pytest.raises(DatasetError, match="expected header"):
        video.read_frame_labels(csv_path, photos.PHOTOS_DEFAULT_MAP, video.VideoStats())


@pytest.mark.parametrize(
    ("class_id", "value", "message"),
    [("0_0", "0.5", "invalid integer"), ("0", "nan", "not finite")],
)
def test_keypoint_csv_bad_values_name_line(
    tmp_path: Path, class_id: str, value: str, message: str
) -> None:
    keypoints = tmp_path / "keypoint.csv"
    keypoints.write_text(",".join([class_id] + [value] * 42) + "\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("Open\n")
    with pytest.raises(DatasetError, match=f"{keypoints}:1: .*{message}"):
        kinivi.import_keypoints(keypoints, labels, kinivi.KEYPOINT_DEFAULT_MAP)
