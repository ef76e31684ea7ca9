"""Adopting the packaged models as version 0 of the device's model store."""

from __future__ import annotations

import shutil

import pytest
from daemon_process import models_dir
from gestured.base_model import BaseModel
from gestured.errors import ModelError
from gestured.ota.store import ModelStore
from gestured.runtime.updates import adopt_packaged


def test_adopt_models_inside_store_root(tmp_path):
    # The default models_dir is "models" inside state_dir: the store's root.
    state = tmp_path / "state"
    shutil.copytree(models_dir(), state / "models")
    store = ModelStore(state)
    folder = adopt_packaged(store, state / "models")
    assert store.current_version() == 0
    assert folder == store.version_folder(0)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        path.name for path in models_dir().iterdir()
    )
    assert BaseModel.load(folder / "static_single").labels


def test_adopt_models_elsewhere(tmp_path):
    store = ModelStore(tmp_path / "state")
    folder = adopt_packaged(store, models_dir())
    assert store.current_version() == 0
    assert (folder / "static_single" / "model.tflite").read_bytes() == (
        models_dir() / "static_single" / "model.tflite"
    ).read_bytes()


def test_adopt_without_families_raises(tmp_path):
    store = ModelStore(tmp_path / "state")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no model family folder"):
        adopt_packaged(store, tmp_path / "empty")
    assert store.current_version() is None
    assert not [p for p in store.root.iterdir() if p.name.startswith(".staging")]
