"""Shard round trip and every kind of invalid shard."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from gestured.dataset import Samples, load_shard, shards, write_shard
from gestured.dataset.shards import load_dataset, load_shard_bytes
from gestured.errors import DatasetError


def make_samples(n: int = 5, family: str = "static_single", seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    frames, hands = {"static_single": (1, 1), "dynamic_double": (16, 2)}[family]
    return Samples.build(
        family,
        rng.random((n, frames, hands, 21, 3), dtype=np.float32),
        ["fist", "five"] * (n // 2) + ["ok"] * (n % 2),
        [f"seq{i % 2}" for i in range(n)],
        image_size=(640, 480),
        timestamps=np.arange(n, dtype=np.float64),
    )


def shard_with(tmp_path: Path, **changes: object) -> Path:
    """Write a valid shard's arrays with some fields replaced or removed."""
    arrays = make_samples().to_arrays()
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("family", ["static_single", "dynamic_double"])
def test_shard_round_trip(tmp_path: Path, family: str) -> None:
    samples = make_samples(7, family)
    path = write_shard(tmp_path, samples)
    loaded = load_shard(path)
    assert loaded.family == family
    for name, array in samples.to_arrays().items():
        assert np.array_equal(loaded.to_arrays()[name], array), name
    assert loaded.labels.dtype.kind == "U"
    assert loaded.has_z


def test_write_shard_never_overwrites(tmp_path: Path) -> None:
    write_shard(tmp_path, make_samples(), name="static_single-a.npz")
    with pytest.raises(DatasetError, match="already exists"):
        write_shard(tmp_path, make_samples(seed=1), name="static_single-a.npz")


def test_merge_drops_duplicates(tmp_path: Path) -> None:
    write_shard(tmp_path, make_samples(4))
    write_shard(tmp_path, make_samples(4))
    assert len(load_dataset(tmp_path, "static_single")) == 4


def test_two_dimensional_import_sets_has_z_false() -> None:
    samples = Samples.build("static_single", np.zeros((2, 21, 2)), ["one", "two"], "s")
    assert not samples.has_z
    assert samples.landmarks.shape == (2, 1, 1, 21, 3)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"landmarks": np.zeros((5, 1, 1, 20, 3), np.float32)}, "shape"),
        ({"landmarks": np.zeros((5, 1, 1, 21, 3), np.float64)}, "dtype"),
        ({"present": np.ones((4, 1, 1), bool)}, "shape"),
        ({"landmarks": np.full((5, 1, 1, 21, 3), np.nan, np.float32)}, "NaN"),
        ({"timestamps": np.array([0, 1, np.inf, 3, 4], np.float64)}, "NaN"),
        ({"schema_version": np.int32(2)}, "unknown schema version 2"),
        ({"family": np.array("static_triple")}, "unknown model family"),
        ({"labels": np.array(["fist", "five", "a b", "ok", "one"])}, "invalid label"),
        ({"labels": np.array(["fist", "five", "../x", "ok", "one"])}, "invalid label"),
        ({"handedness": np.full((5, 1, 1), 3, np.int8)}, "handedness"),
        ({"image_size": np.zeros((5, 2), np.int32)}, "image_size"),
        ({"sources": np.array(["a", "", "b", "c", "d"])}, "source"),
        ({"labels": None}, "missing field"),
        ({"has_z": None}, "missing field has_z"),
        ({"schema_version": None}, "missing field schema_version"),
    ],
)
def test_invalid_shard_rejected(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    path = shard_with(tmp_path, **changes)
    with pytest.raises(DatasetError, match=message) as caught:
        load_shard(path)
    assert str(path) in str(caught.value)


def test_object_array_rejected_without_unpickling(tmp_path: Path) -> None:
    path = shard_with(tmp_path, labels=np.array(["fist", 1, None, "ok", "one"], object))
    with pytest.raises(DatasetError, match="disallowed dtype object"):
        load_shard(path)


def test_corrupt_and_missing_files_rejected(tmp_path: Path) -> None:
    corrupt = tmp_path / "static_single-corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DatasetError, match="corrupt"):
        load_shard(corrupt)
    with pytest.raises(DatasetError, match="not found"):
        load_shard(tmp_path / "absent.npz")


def test_oversized_member_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 64 KiB limit replaces the real 512 MiB one, to keep memory small.
    monkeypatch.setattr(shards, "MAX_MEMBER_BYTES", 64 * 1024)
    arrays = make_samples().to_arrays()
    arrays["timestamps"] = np.zeros(16 * 1024)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with pytest.raises(DatasetError, match="over the limit"):
        load_shard_bytes(buffer.getvalue(), "<received>")


def test_long_label_rejected_not_cut() -> None:
    with pytest.raises(DatasetError, match="at most 32 characters"):
        Samples.build("static_single", np.zeros((1, 21, 2)), ["a" * 40], "source")


def test_long_source_rejected_not_cut() -> None:
    with pytest.raises(DatasetError, match="at most 64 characters"):
        Samples.build("static_single", np.zeros((1, 21, 2)), ["fist"], "s" * 65)
