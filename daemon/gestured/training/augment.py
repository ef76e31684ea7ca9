"""Augmentation of `hand-shape-v1` feature vectors for training."""

from __future__ import annotations

import numpy as np

from gestured.features import HAND_VALUES, mirror


def _renormalize(points: np.ndarray) -> np.ndarray:
    scale = np.abs(points).reshape(len(points), -1).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    return points / scale[:, None, None]


def rotate(features: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate each hand shape about the wrist by `angles` (radians, one per row)."""
    points = features.reshape(len(features), HAND_VALUES // 2, 2)
    cos = np.cos(angles)[:, None]
    sin = np.sin(angles)[:, None]
    x = points[..., 0] * cos - points[..., 1] * sin
    y = points[..., 0] * sin + points[..., 1] * cos
    rotated = _renormalize(np.stack([x, y], axis=-1))
    return rotated.reshape(len(features), HAND_VALUES).astype(np.float32)


def augment(
    features: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    copies: int = 2,
    max_angle_deg: float = 15.0,
    noise: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the originals, their mirror images and rotated, noisy copies of both.

    Mirroring makes a model trained on mostly right hands serve left hands.
    Rotations cover a tilted hand, and noise covers landmark jitter, both
    within what a webcam at arm's length produces.
    """
    both = np.concatenate([features, mirror(features, "static_single")])
    both_labels = np.concatenate([labels, labels])
    parts = [both]
    part_labels = [both_labels]
    limit = np.deg2rad(max_angle_deg)
    for _ in range(copies):
        angles = rng.uniform(-limit, limit, size=len(both))
        jitter = rng.normal(0.0, noise, size=both.shape).astype(np.float32)
        noisy = rotate(both + jitter, angles)
        # The wrist stays the origin, as `features.hand_shape` guarantees.
        noisy[:, :2] = 0.0
        parts.append(noisy)
        part_labels.append(both_labels)
    return np.concatenate(parts), np.concatenate(part_labels)
