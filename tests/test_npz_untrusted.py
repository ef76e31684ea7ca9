"""Hostile `.npz` files: unknown members, size bombs and malformed zips."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gestured.dataset import shards
from gestured.dataset.shards import load_shard, load_shard_bytes, shard_bytes
from gestured.errors import DatasetError, ModelError
from gestured.ota.collect import Collector
from gestured.user.bundle import read_bundle
from gestured.user.model_file import load_model
from numpy.lib import format as npy_format
from test_dataset_shards import make_samples

REPO = Path(__file__).resolve().parents[1]


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def shard_members() -> dict[str, bytes]:
    arrays = make_samples().to_arrays()
    return {f"{name}.npy": npy_bytes(value) for name, value in arrays.items()}


def huge_shape_member() -> bytes:
    """A 2**45-element header followed by no data: 256 TiB if allocated."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (2**45,)}
    )
    return buffer.getvalue()


def patch_zip_field(data: bytes, local: int, central: int, value: int) -> bytes:
    """Set a 2-byte field in every local and central zip header."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        start = 0
        while (start := patched.find(signature, start)) >= 0:
            patched[start + offset : start + offset + 2] = value.to_bytes(2, "little")
            start += 4
    return bytes(patched)


def test_unknown_member_rejected() -> None:
    members = shard_members()
    members["junk.npy"] = npy_bytes(np.zeros(1024, np.uint8))
    with pytest.raises(DatasetError, match="unexpected member 'junk.npy'"):
        load_shard_bytes(zip_bytes(members), "<received>")


def test_total_unpacked_size_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2 MiB of allowed members against a 1 MiB total limit, each member under
    # the 512 MiB member limit.
    monkeypatch.setattr(shards, "MAX_UNPACKED_BYTES", 1024 * 1024)
    arrays = make_samples().to_arrays()
    arrays["timestamps"] = np.zeros(128 * 1024)
    arrays["sources"] = np.zeros(128 * 1024)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with pytest.raises(DatasetError, match="unpacks to .* more than 1048576"):
        load_shard_bytes(buffer.getvalue(), "<received>")


def test_huge_shape_header_rejected(tmp_path: Path) -> None:
    members = shard_members()
    members["timestamps.npy"] = huge_shape_member()
    path = tmp_path / "static_single-huge.npz"
    path.write_bytes(zip_bytes(members, zipfile.ZIP_DEFLATED))
    with pytest.raises(DatasetError, match=f"{path}: member timestamps claims"):
        load_shard(path)


@pytest.mark.parametrize(
    ("local", "central", "value", "expected"),
    [
        (8, 10, 99, "unsupported compression method 99"),
        (6, 8, 1, "encrypted"),
    ],
)
def test_malformed_zip_header_rejected(
    tmp_path: Path, local: int, central: int, value: int, expected: str
) -> None:
    data = patch_zip_field(zip_bytes(shard_members()), local, central, value)
    path = tmp_path / "static_single-bad.npz"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=expected):
        load_shard(path)


def test_truncated_member_rejected() -> None:
    members = shard_members()
    members["timestamps.npy"] = members["timestamps.npy"][:-8]
    with pytest.raises(DatasetError, match="timestamps"):
        load_shard_bytes(zip_bytes(members), "<received>")


def test_every_parser_error_is_model_error(tmp_path: Path) -> None:
    path = tmp_path / "static_single.npz"
    path.write_bytes(zip_bytes({"coef.npy": huge_shape_member()}))
    assert path.stat().st_size < 400
    with pytest.raises(ModelError, match=f"{path}: member coef claims"):
        load_model(path)
    data = patch_zip_field(zip_bytes({"coef.npy": b"x"}), 8, 10, 99)
    path.write_bytes(data)
    with pytest.raises(ModelError, match="compression"):
        load_model(path)


def test_bundle_with_unknown_member_rejected(tmp_path: Path) -> None:
    arrays = {
        f"static_single.{name}": value
        for name, value in make_samples().to_arrays().items()
    }
    arrays["bundle_format"] = np.int32(1)
    arrays["families"] = np.array(["static_single"])
    path = tmp_path / "bundle.npz"
    np.savez(path, **arrays)
    assert len(read_bundle(path)) == 1
    np.savez(path, **arrays, padding=np.zeros(1024, np.uint8))
    with pytest.raises(DatasetError, match="unexpected member 'padding.npy'"):
        read_bundle(path)


def test_user_import_rejects_padded_bundle(tmp_path: Path) -> None:
    arrays = {
        f"static_single.{name}": value
        for name, value in make_samples().to_arrays().items()
    }
    path = tmp_path / "bundle.npz"
    np.savez_compressed(
        path,
        **arrays,
        bundle_format=np.int32(1),
        families=np.array(["static_single"]),
        extra=np.zeros(4 * 1024 * 1024, np.uint8),
    )
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "gestured", "user", "--state-dir", str(state)]
        + ["import", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "daemon")},
    )
    assert result.returncode == 1
    assert "unexpected member 'extra.npy'" in result.stderr
    assert "Traceback" not in result.stderr
    assert list((state / "samples").glob("*.npz")) == []


def test_collector_stores_only_schema_fields(tmp_path: Path) -> None:
    # handle() is the collector's whole message path; no broker is needed to
    # check what it writes to disk.
    collector = Collector("127.0.0.1", 1, tmp_path)
    samples = make_samples()
    stored_payload = zip_bytes(shard_members())
    archive = zipfile.ZipFile(io.BytesIO(stored_payload), "a")
    archive.comment = b"x" * 1000
    archive.close()
    path = collector.handle("gestured/kitchen/samples", stored_payload)
    assert path is not None
    assert path.read_bytes() == shard_bytes(samples)
    members = shard_members()
    members["junk.npy"] = npy_bytes(np.zeros(16, np.uint8))
    assert collector.handle("gestured/hall/samples", zip_bytes(members)) is None
    assert collector.rejected == 1
    assert not (tmp_path / "hall").exists()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"bundle_format": np.array("1")}, "not a gestured user bundle"),
        ({"bundle_format": np.float64("nan")}, "not a gestured user bundle"),
        ({"families": np.array(["static_single"] * 3)}, "more than once"),
    ],
)
def test_bundle_header_rejected(tmp_path: Path, changes, expected) -> None:
    arrays = {
        f"static_single.{name}": value
        for name, value in make_samples().to_arrays().items()
    }
    arrays["bundle_format"] = np.int32(1)
    arrays["families"] = np.array(["static_single"])
    arrays.update(changes)
    path = tmp_path / "bundle.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=expected):
        read_bundle(path)
