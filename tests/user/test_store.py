"""User store, model files, delete, refit, export and import on real keypoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gestured.dataset.schema import Samples
from gestured.errors import DatasetError, ModelError
from gestured.features import features_for
from gestured.user.background import Background
from gestured.user.bundle import export_bundle, import_bundle
from gestured.user.model_file import load_model, save_model
from gestured.user.store import JOURNAL_NAME, UserStore


def keypoint_samples(background: Background, base_label: str, label: str, count=40):
    """Samples of `label` made from kinivi rows of `base_label` (isotropic units)."""
    rows = background.features[background.labels == base_label][:count]
    return Samples.build(
        "static_single", rows.reshape(len(rows), 21, 2), [label] * len(rows), "t"
    )


@pytest.fixture
def taught(tmp_path, kinivi_background):
    """A store that contains "okay" (kinivi OK) and "point" (kinivi Pointer)."""
    background = Background.build(
        "static_single",
        kinivi_background.features,
        kinivi_background.labels,
    )
    store = UserStore(tmp_path)
    store.add_shard(keypoint_samples(background, "OK", "okay"))
    store.add_shard(keypoint_samples(background, "Pointer", "point"))
    return store, background


def test_refit_learns_both_labels(taught):
    store, background = taught
    model = store.refit("static_single", background)
    assert model.labels == ["okay", "point"]
    loaded = store.load_model("static_single")
    x = features_for(keypoint_samples(background, "OK", "okay", 200))[100:]
    assert np.allclose(loaded.predict_proba(x), model.predict_proba(x))
    top = np.array(model.classes)[model.predict_proba(x).argmax(axis=1)]
    assert np.mean(top == "okay") >= 0.9


def test_user_label_overrides_base_label(taught):
    store, background = taught
    store.add_shard(keypoint_samples(background, "Close", "Close"))
    model = store.refit("static_single", background)
    assert "Close" in model.labels
    # The base rows of "Close" left the background class.
    remaining = int((background.labels != "Close").sum())
    assert model.sample_count("__base__") == remaining
    x = features_for(keypoint_samples(background, "Close", "x"))
    top = np.array(model.classes)[model.predict_proba(x).argmax(axis=1)]
    assert np.mean(top == "Close") >= 0.9


def test_learn_keeps_old_label(taught):
    store, background = taught
    store.refit("static_single", background)
    shard = store.add_shard(keypoint_samples(background, "Open", "palm"))
    model = store.learn_shard(shard, background)
    assert model.labels == ["okay", "palm", "point"]
    assert model.sample_count("palm") == 40
    x = features_for(keypoint_samples(background, "OK", "x", 200))[100:]
    top = np.array(model.classes)[model.predict_proba(x).argmax(axis=1)]
    assert np.mean(top == "okay") >= 0.8


def test_delete_then_refit(taught):
    store, background = taught
    store.refit("static_single", background)
    assert store.delete_label("okay") == {"static_single": 40}
    assert store.labels() == {"static_single": {"point": 40}}
    model = store.refit("static_single", background)
    assert model.labels == ["point"]
    assert store.delete_label("point") == {"static_single": 40}
    assert store.refit("static_single", background) is None
    assert not store.model_path("static_single").exists()


def test_delete_resumes_after_crash(taught, tmp_path):
    store, background = taught
    mixed = Samples.build(
        "static_single",
        np.concatenate(
            [
                keypoint_samples(background, "OK", "okay", 5).landmarks,
                keypoint_samples(background, "Open", "palm", 5).landmarks,
            ]
        ),
        ["okay"] * 5 + ["palm"] * 5,
        "t",
    )
    store.add_shard(mixed)
    # Simulate a crash right after the journal was written.
    names = [p.name for p in store.shards() if "okay" in load_labels(p)]
    journal = json.dumps({"label": "okay", "shards": names})
    (tmp_path / "samples" / JOURNAL_NAME).write_text(journal)
    assert "okay" not in store.labels()["static_single"]
    reopened = UserStore(tmp_path)
    assert not (tmp_path / "samples" / JOURNAL_NAME).exists()
    assert reopened.labels() == {"static_single": {"palm": 5, "point": 40}}


def load_labels(path):
    from gestured.dataset.shards import load_shard

    return set(load_shard(path).labels.tolist())


def test_corrupt_model_file_clear_error(taught):
    store, background = taught
    store.refit("static_single", background)
    path = store.model_path("static_single")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt or unreadable"):
        store.load_model("static_single")
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="corrupt or unreadable"):
        load_model(path)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("coef", np.full((3, 42), np.nan), "NaN"),
        ("coef", np.zeros((2, 42)), "shape"),
        ("classes", np.array(["a", "b"]), "__base__"),
        ("classes", np.array(["__base__", "x y"]), "invalid class label"),
        ("scale", np.zeros(42), "positive"),
        ("scale", np.full(42, 1e-320), "at least"),
        ("mean", np.full(42, 1e300), "beyond"),
        ("feature_size", np.int32(86), "do not match"),
        ("coef", np.array([{"a": 1}], dtype=object), "disallowed dtype"),
    ],
)
def test_tampered_model_rejected(taught, tmp_path, field, value, expected):
    from gestured.user.model_file import model_arrays

    store, background = taught
    model = store.refit("static_single", background)
    arrays = model_arrays(model)
    arrays[field] = value
    path = tmp_path / "tampered.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelError, match=expected):
        load_model(path)


def test_export_import_roundtrip(taught, tmp_path):
    store, background = taught
    bundle = tmp_path / "export.npz"
    assert export_bundle(store, bundle) == {"static_single": 80}
    other = UserStore(tmp_path / "other")
    assert len(import_bundle(other, bundle)) == 1
    assert other.labels() == store.labels()


def test_import_rejects_bad_bundle(taught, tmp_path):
    store, background = taught
    bundle = tmp_path / "export.npz"
    export_bundle(store, bundle)
    with np.load(bundle) as archive:
        arrays = dict(archive)
    arrays["static_single.labels"] = np.array(["__base__"] * 80)
    np.savez(tmp_path / "bad.npz", **arrays)
    other = UserStore(tmp_path / "other")
    with pytest.raises(DatasetError, match="reserved"):
        import_bundle(other, tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="corrupt"):
        import_bundle(other, tmp_path / "junk.npz")
    assert other.shards() == []


def test_save_is_atomic_replace(taught, tmp_path):
    store, background = taught
    model = store.refit("static_single", background)
    save_model(model, tmp_path / "m.npz")
    save_model(model, tmp_path / "m.npz")
    assert [p.name for p in tmp_path.glob(".*tmp")] == []
