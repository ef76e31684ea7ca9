"""Signing keys, the manifest's path checks and the publishing command line."""

from __future__ import annotations

import json
import stat

import pytest
from gestured.cli import main
from gestured.ota import keys
from gestured.ota.manifest import ManifestError, parse_manifest


def test_generate_keys_private_mode_and_no_overwrite(tmp_path):
    private, public = keys.generate_keypair(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = keys.load_private_key(private)
    signature = keys.sign(key, b"data")
    assert keys.verify(keys.load_public_key(public), b"data", signature)
    assert not keys.verify(keys.load_public_key(public), b"date", signature)
    before = private.read_bytes()
    with pytest.raises(keys.SigningKeyError, match="not overwriting"):
        keys.generate_keypair(tmp_path)
    assert private.read_bytes() == before


def test_cli_keys_generate_twice_fails(tmp_path, capsys):
    assert main(["keys", "generate", "--out", str(tmp_path)]) == 0
    assert main(["keys", "generate", "--out", str(tmp_path)]) == 1
    assert "not overwriting" in capsys.readouterr().err


def test_public_key_parse_rejects_wrong_length():
    with pytest.raises(keys.SigningKeyError, match="expected 32"):
        keys.parse_public_key("AAAA")


def _manifest(name: str) -> bytes:
    entry = {
        "labels": [],
        "feature": {"name": "hand-shape-v1", "size": 42},
        "files": [
            {"name": name, "install_as": "manifest.json", "size": 1, "sha256": "0" * 64}
        ],
    }
    return json.dumps(
        {
            "kind": "gestured-model-bundle",
            "format": 1,
            "version": 2,
            "created": 1,
            "expires": 2,
            "families": {"static_single": entry},
        }
    ).encode()


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "..", "/etc/passwd", ".hidden", "a..b", "", "x" * 200]
)
def test_manifest_rejects_path_tricks(name):
    with pytest.raises(ManifestError, match="invalid file name"):
        parse_manifest(_manifest(name))


def test_manifest_accepts_plain_name():
    assert parse_manifest(_manifest("static_single-ab-manifest.json")).version == 2


def test_cli_publish_without_models_fails(tmp_path, capsys):
    private, _ = keys.generate_keypair(tmp_path / "k")
    argv = ["publish", "--models", str(tmp_path / "none"), "--key", str(private)]
    assert main([*argv, "--out", str(tmp_path / "www"), "--version", "1"]) == 1
    assert "no model folder" in capsys.readouterr().err
