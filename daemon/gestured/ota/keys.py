"""Ed25519 signing keys for model bundles."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gestured.atomic import fsync_dir
from gestured.errors import GesturedError

PRIVATE_KEY_NAME = "bundle_signing.key"
PUBLIC_KEY_NAME = "bundle_signing.pub"
SIGNATURE_BYTES = 64
RAW_PUBLIC_KEY_BYTES = 32


class SigningKeyError(GesturedError):
    """A key file that is missing, unreadable or of the wrong kind."""


def generate_keypair(out_dir: Path) -> tuple[Path, Path]:
    """Write a new private key (mode 0600) and its public key into `out_dir`.

    Existing key files are never overwritten, because losing the private key
    would strand every device that trusts the old public key.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path = out_dir / PRIVATE_KEY_NAME
    public_path = out_dir / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise SigningKeyError(
                f"{path}: key file already exists, not overwriting it"
            )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL closes the race with a second writer, and the mode is set at
    # creation so the secret is never readable by others, not even briefly.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
        handle.flush()
        os.fsync(handle.fileno())
    public_path.write_text(public_key_text(key.public_key()) + "\n")
    fsync_dir(out_dir)
    return private_path, public_path


def public_key_text(key: Ed25519PublicKey) -> str:
    """Return the raw 32-byte public key in base64, the form config files take."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read private key ({exc})") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def parse_public_key(value: str) -> Ed25519PublicKey:
    """Parse a public key given as base64 of the raw 32 bytes, or as PEM text."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except ValueError as exc:
            raise SigningKeyError(f"invalid PEM public key ({exc})") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError("public key is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise SigningKeyError(f"invalid base64 public key {text[:16]!r}…") from exc
    if len(raw) != RAW_PUBLIC_KEY_BYTES:
        raise SigningKeyError(
            f"public key has {len(raw)} bytes, expected {RAW_PUBLIC_KEY_BYTES}"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key(value: str | Path) -> Ed25519PublicKey:
    """Load a public key from a file path, or parse it when given as text."""
    if isinstance(value, Path) or (
        isinstance(value, str)
        and not value.strip().startswith("-----")
        and os.path.sep in value
    ):
        path = Path(value)
        try:
            return parse_public_key(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningKeyError(f"{path}: cannot read public key ({exc})") from exc
    return parse_public_key(str(value))


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """Return the detached 64-byte Ed25519 signature of `data`."""
    return key.sign(data)


def verify(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """Return whether `signature` is a valid signature of `data` by `key`."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
