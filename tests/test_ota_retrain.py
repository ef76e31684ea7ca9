"""Retraining on base data plus collected shards, then devices installing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gestured.base_model import BaseModel
from gestured.dataset.shards import write_shard
from gestured.ota import keys
from gestured.ota.retrain import merge_family, retrain, split_by_source
from gestured.ota.store import ModelStore
from gestured.ota.trainers import retrain_fn
from gestured.ota.updater import INSTALLED, Updater
from ota_fixtures import random_samples, serve_folder

BASE_LABELS = ["fist", "five", "ok"]


def _base_data(folder: Path) -> Path:
    for index in range(6):
        write_shard(folder, random_samples(BASE_LABELS, 30, f"base-{index}", index))
    return folder


def _collected(folder: Path) -> Path:
    # "wave" from two homes joins the vocabulary; "clap" from one is dropped.
    plan = {
        "kitchen": ["fist", "wave", "clap"],
        "hall": ["five", "wave"],
        "office": ["ok"],
    }
    for seed, (device, labels) in enumerate(plan.items()):
        for session in range(3):
            samples = random_samples(
                labels, 12, f"s{session}", 100 + seed * 10 + session
            )
            write_shard(folder / device, samples)
    return folder


# The full trainer of static_single, with fewer epochs and MLPs than a release.
_fast_train = retrain_fn(epochs=15, members=1)


def test_merge_joins_labels_from_enough_devices():
    base = random_samples(BASE_LABELS, 9, "base", 1)
    collected = [
        ("a", random_samples(["wave", "fist"], 4, "s", 2)),
        ("b", random_samples(["wave"], 4, "s", 3)),
        ("b", random_samples(["clap"], 4, "t", 4)),
    ]
    merged, labels, joined, dropped = merge_family(base, BASE_LABELS, collected, 2)
    assert labels == [*BASE_LABELS, "wave"]
    assert joined == ["wave"]
    assert dropped == {"clap": 1}
    assert "clap" not in set(merged.labels.tolist())
    assert {"a/s", "b/s"} <= set(merged.sources.tolist())
    train, val = split_by_source(merged)
    assert not set(train.sources.tolist()) & set(val.sources.tolist())
    assert len(train) + len(val) == len(merged)


@pytest.mark.slow
def test_retrain_publishes_bundle_devices_install(tmp_path):
    private, public = keys.generate_keypair(tmp_path / "keys")
    base = _base_data(tmp_path / "base")
    server = tmp_path / "server"
    www = tmp_path / "www"
    # Month one: base data only, no collected shards yet.
    version, reports = retrain(
        base, tmp_path / "none", server, private, www, _fast_train, min_devices=2
    )
    assert version == 1
    assert reports[0].labels == BASE_LABELS
    device_store = ModelStore(tmp_path / "device")
    with serve_folder(www) as http:
        updater = Updater(device_store, http.url, public.read_text())
        assert updater.check_now().status == INSTALLED
        # Month two: the shared shards join.
        version, reports = retrain(
            base,
            _collected(tmp_path / "collected"),
            server,
            private,
            www,
            _fast_train,
            min_devices=2,
        )
        assert version == 2
        report = reports[0]
        assert report.labels == [*BASE_LABELS, "wave"]
        assert report.dropped == {"clap": 1}
        assert report.new_accuracy >= report.current_accuracy
        result = updater.check_now()
    assert result.status == INSTALLED
    assert result.version == 2
    folder = device_store.current_folder() / "static_single"
    model = BaseModel.load(folder)
    assert model.labels == [*BASE_LABELS, "wave"]
    assert BaseModel.load(folder, variant="int8").labels == model.labels
    # The card stays on the server: bundles carry only what devices load.
    published = ModelStore(server).current_folder() / "static_single"
    assert "wave" in (published / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_worse_model_not_published(tmp_path):
    private, _ = keys.generate_keypair(tmp_path / "keys")
    base = _base_data(tmp_path / "base")
    www = tmp_path / "www"
    server = tmp_path / "server"
    assert retrain(base, tmp_path / "none", server, private, www, _fast_train)[0] == 1

    def shuffled_train(train, val, labels, out_dir):
        rng = np.random.default_rng(0)
        wrong = train.select(np.arange(len(train)))
        object.__setattr__(wrong, "labels", rng.permutation(train.labels))
        return _fast_train(wrong, val, labels, out_dir)

    version, reports = retrain(
        base, tmp_path / "none", server, private, www, shuffled_train
    )
    assert version is None
    assert not reports[0].accepted
    assert reports[0].new_accuracy < reports[0].current_accuracy
    assert ModelStore(server).current_version() == 1
