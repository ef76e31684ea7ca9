"""User errors end in one message line and exit 1, without a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from real_data import REPO, run_cli


def assert_clean_failure(
    result: subprocess.CompletedProcess[str], expected: str
) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [
        line for line in result.stderr.splitlines() if line.startswith("gestured:")
    ]
    assert len(error_lines) == 1, result.stderr
    assert expected in error_lines[0]


def test_classify_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.jpg"
    result = run_cli("classify", str(missing), "--models", str(REPO / "models"))
    assert_clean_failure(result, f"{missing}: file not found")


def test_classify_models_folder_missing(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not really a jpeg")
    result = run_cli("classify", str(photo), "--models", str(tmp_path / "none"))
    assert_clean_failure(result, "models folder not found")


def test_classify_unreadable_image(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not really a jpeg")
    result = run_cli("classify", str(photo), "--models", str(REPO / "models"))
    assert_clean_failure(result, "not a readable image")


def test_classify_tampered_model(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "static_single"
    folder.mkdir(parents=True)
    for source in (REPO / "models" / "static_single").iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "model.tflite").write_bytes(b"\0" * 100)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x")
    result = run_cli("classify", str(photo), "--models", str(tmp_path / "models"))
    assert_clean_failure(result, "differs from manifest")


def test_train_corrupt_shard(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    corrupt = dataset / "static_single-20260101T000000-000000000000.npz"
    corrupt.write_bytes(b"PK\x03\x04garbage")
    result = run_cli("train", "--dataset", str(dataset), "--out", str(tmp_path / "m"))
    assert_clean_failure(result, "corrupt or unreadable .npz")
    assert not (tmp_path / "m").exists()


def test_import_wrong_column_count(tmp_path: Path) -> None:
    csv_path = tmp_path / "keypoint.csv"
    csv_path.write_text("0," + ",".join(["0.5"] * 41) + "\n")
    labels = tmp_path / "keypoint_classifier_label.csv"
    labels.write_text("Open\n")
    result = run_cli(
        "data", "import", "kinivi", "--keypoints", str(csv_path), "--out", str(tmp_path)
    )
    assert_clean_failure(result, f"{csv_path}:1: expected 43 columns, got 42")


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [("Open=wave", "not in the vocabulary"), ("Open=a/b", "invalid label")],
)
def test_import_label_outside_vocabulary(
    tmp_path: Path, mapping: str, expected: str
) -> None:
    csv_path = tmp_path / "keypoint.csv"
    csv_path.write_text("0," + ",".join(["0.5"] * 42) + "\n")
    (tmp_path / "keypoint_classifier_label.csv").write_text("Open\n")
    result = run_cli(
        "data",
        "import",
        "kinivi",
        "--keypoints",
        str(csv_path),
        "--map",
        mapping,
        "--out",
        str(tmp_path / "out"),
    )
    assert_clean_failure(result, expected)
    assert not (tmp_path / "out").exists()


def test_train_unknown_exclude_label(tmp_path: Path) -> None:
    result = run_cli(
        "train",
        "--dataset",
        str(tmp_path),
        "--exclude-label",
        "../x",
        "--out",
        str(tmp_path / "m"),
    )
    assert_clean_failure(result, "invalid label")
