"""The committed static one-hand model on photo sequences it never saw."""

from __future__ import annotations

import csv
import json

import pytest
from gestured.base_model import BaseModel
from gestured.importers.common import FINGER_LABELS
from real_data import REPO, data_root, run_cli

HELDOUT_SEQUENCES = ("1528664299.56", "3_1528499009.07")


def box_centre_inside(bbox: list[float], row: dict[str, str]) -> bool:
    centre_x = (bbox[0] + bbox[2]) / 2
    centre_y = (bbox[1] + bbox[3]) / 2
    return float(row["xmin"]) <= centre_x <= float(row["xmax"]) and float(
        row["ymin"]
    ) <= centre_y <= float(row["ymax"])


def test_committed_model_loads() -> None:
    for variant in ("float32", "int8"):
        model = BaseModel.load(REPO / "models" / "static_single", variant=variant)
        assert model.labels == ["fist", "one", "two", "three", "four", "five", "ok"]


@pytest.mark.slow
def test_heldout_photos_top1_through_classify() -> None:
    hands = data_root() / "handsdataset"
    with (hands / "labels.csv").open(newline="") as handle:
        rows = [
            row
            for row in csv.DictReader(handle)
            if row["filename"].rsplit("_pic", 1)[0] in HELDOUT_SEQUENCES
        ]
    per_photo = {row["filename"]: row for row in rows}
    assert len(per_photo) == len(rows) == 247, "held-out photos should have one hand"
    paths = [str(hands / "images" / name) for name in sorted(per_photo)]
    result = run_cli("classify", "--models", str(REPO / "models"), *paths, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(paths)
    correct = 0
    for line in lines:
        row = per_photo[line["file"].rsplit("/", 1)[1]]
        expected = FINGER_LABELS[int(row["fingers"])]
        matches = [
            gesture["gesture"]
            for hand, gesture in zip(
                line["hands"], line["gestures"]["static_single"], strict=True
            )
            if box_centre_inside(hand["bbox"], row)
        ]
        correct += matches[:1] == [expected]
    # A photo where MediaPipe finds no hand in the box counts as wrong.
    top1 = correct / len(lines)
    print(f"held-out top-1 {top1:.3f} ({correct} of {len(lines)})")
    assert top1 >= 0.95, f"held-out top-1 {top1:.3f} ({correct} of {len(lines)})"
