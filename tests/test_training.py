"""Training a small model end to end and loading it like the daemon does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gestured.base_model import BaseModel, read_manifest, sha256_file
from gestured.dataset import Samples, write_shard
from gestured.importers import kinivi
from gestured.training.static_single import TrainOptions, train_static_single
from real_data import data_root


def kinivi_dataset(folder: Path) -> None:
    root = data_root() / "kinivi"
    samples = kinivi.import_keypoints(
        root / "keypoint.csv",
        root / "keypoint_classifier_label.csv",
        kinivi.KEYPOINT_DEFAULT_MAP,
    )
    # Every fourth block of 100 rows, so that a few stay out for scoring.
    blocks = np.char.rpartition(samples.sources, "block")[:, 2].astype(int)
    write_shard(folder, samples.select(blocks % 4 != 3))
    heldout = samples.select(blocks % 4 == 3)
    write_shard(
        folder,
        Samples.build(
            "static_single",
            heldout.landmarks,
            heldout.labels,
            "test-heldout",
            image_size=(1, 1),
        ),
    )


@pytest.mark.slow
def test_train_tiny_model_and_load(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    kinivi_dataset(dataset)
    models = tmp_path / "models"
    result = train_static_single(
        TrainOptions(
            dataset=dataset,
            out=models,
            heldout_sources=("test-heldout",),
            exclude_labels=("ok",),
            epochs=3,
            members=2,
            version="20260101.1",
            verbose=0,
        )
    )
    assert result.labels == ["fist", "one", "five"]
    assert result.heldout_top1 > 0.9
    folder = models / "static_single"
    manifest = read_manifest(folder)
    assert manifest["version"] == "20260101.1"
    assert manifest["input_shape"] == [1, 42]
    assert manifest["scores"]["heldout_samples"] == result.heldout_samples
    for entry in [*manifest["files"].values(), manifest["background"]]:
        path = folder / entry["path"]
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == sha256_file(path)
    for variant in ("float32", "int8"):
        model = BaseModel.load(folder, variant=variant)
        assert model.labels == ["fist", "one", "five"]
        probabilities = model.predict_proba(np.zeros((2, 42), np.float32))
        assert probabilities.shape == (2, 3)
    with np.load(folder / "background.npz", allow_pickle=False) as background:
        assert background["features"].dtype == np.float32
        assert background["features"].shape[1] == 42
        assert background["labels"].dtype.kind == "U"
        labels, counts = np.unique(background["labels"], return_counts=True)
    assert labels.tolist() == ["fist", "five", "one"]
    assert (counts == counts[0]).all()
    assert "Apache-2.0" in (folder / "MODEL_CARD.md").read_text()
    assert (folder / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    for family in ("static_double", "dynamic_single", "dynamic_double"):
        stub = json.loads((models / family / "manifest.json").read_text())
        assert stub["files"] == {}
        assert read_manifest(models / family)["family"] == family
