"""Features computed from raw landmarks, shared by training and the daemon.

MediaPipe's normalized x is divided by the image width and y by the height, so
x and y are first turned back into pixels, which keeps angles right on any
aspect ratio. Each hand is then moved so that its wrist is the origin and
divided by its largest absolute coordinate, which removes the hand's position
and size. Only x and y are used, so rows imported without z give the same
features. For a single static hand this equals the 42-value keypoint rows that
many MediaPipe hobby projects log, so those rows import without loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gestured.dataset.schema import FAMILIES, NUM_LANDMARKS, Samples

FINGERTIP = 8  # MediaPipe's index fingertip, tracked by the dynamic families.
HAND_VALUES = NUM_LANDMARKS * 2


@dataclass(frozen=True)
class FeatureSpec:
    """A named feature layout that a model manifest refers to."""

    name: str
    size: int


FEATURE_SPECS: dict[str, FeatureSpec] = {
    "static_single": FeatureSpec("hand-shape-v1", HAND_VALUES),
    # Two hand shapes, left-most in the image first, then the second wrist's
    # offset from the first in units of the first hand's size.
    "static_double": FeatureSpec("two-hand-shape-v1", 2 * HAND_VALUES + 2),
    # The index fingertip's path over 16 frames, relative to its first point.
    "dynamic_single": FeatureSpec(
        "fingertip-path-v1", FAMILIES["dynamic_single"][0] * 2
    ),
    "dynamic_double": FeatureSpec(
        "two-fingertip-path-v1", FAMILIES["dynamic_double"][0] * 4
    ),
}


def to_pixels(landmarks: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Return x and y in pixels, shape (..., 21, 2), from normalized landmarks.

    `image_size` holds (width, height) and broadcasts over the leading axes.
    """
    size = np.asarray(image_size, dtype=np.float32)[..., None, :]
    return np.asarray(landmarks, dtype=np.float32)[..., :2] * size


def _scale_of(values: np.ndarray) -> np.ndarray:
    scale = np.abs(values).reshape(*values.shape[:-2], -1).max(axis=-1)
    # A degenerate hand (all points on the wrist) maps to zeros, not NaN.
    return np.where(scale > 0, scale, 1.0)[..., None, None]


def hand_shape(landmarks: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Return the 42 shape values of each hand, shape (..., 42).

    `landmarks` has shape (..., 21, 2 or 3) in MediaPipe's normalized units.
    """
    pixels = to_pixels(landmarks, image_size)
    relative = pixels - pixels[..., :1, :]
    shaped = relative / _scale_of(relative)
    return shaped.reshape(*shaped.shape[:-2], HAND_VALUES).astype(np.float32)


def two_hand_shape(landmarks: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Return the two-hand features, shape (N, 86), from (N, 2, 21, 3) landmarks."""
    pixels = to_pixels(landmarks, image_size[:, None, :])
    order = np.argsort(pixels[:, :, 0, 0], axis=1)
    pixels = np.take_along_axis(pixels, order[:, :, None, None], axis=1)
    relative = pixels - pixels[:, :, :1, :]
    shapes = relative / _scale_of(relative)
    first_scale = _scale_of(relative[:, 0])[:, 0, 0]
    offset = (pixels[:, 1, 0] - pixels[:, 0, 0]) / first_scale[:, None]
    return np.concatenate([shapes.reshape(len(pixels), -1), offset], axis=1).astype(
        np.float32
    )


def fingertip_path(
    landmarks: np.ndarray, image_size: np.ndarray, hand_extent: np.ndarray
) -> np.ndarray:
    """Return fingertip paths, shape (N, T * 2), from (N, T, 21, 3) landmarks.

    The path is divided by `hand_extent` (N,), the hand's size in pixels, so a
    gesture made far from the camera gives the same path as one made close.
    """
    pixels = to_pixels(landmarks, image_size[:, None, :])[:, :, FINGERTIP]
    path = (pixels - pixels[:, :1]) / hand_extent[:, None, None]
    return path.reshape(len(pixels), -1).astype(np.float32)


def landmark_extent(landmarks: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Return each sample's hand size in pixels, shape (N,).

    `landmarks` has shape (N, T, H, 21, 3) and `image_size` (N, 2). The size
    is the largest distance along x or y of any landmark from its wrist, over
    all frames and hands, and 1 for a degenerate hand so it can divide.
    """
    size = np.asarray(image_size)[:, None, None, :]
    pixels = to_pixels(landmarks, size)
    relative = pixels - pixels[..., :1, :]
    extent = np.abs(relative).reshape(len(relative), -1).max(axis=1)
    return np.where(extent > 0, extent, 1.0).astype(np.float32)


def hand_extent(samples: Samples) -> np.ndarray:
    """Return each sample's hand size in pixels for the dynamic families.

    Recordings that only logged the fingertip (point_mask) have no hand to
    measure, so a fifth of the longer image side is used instead, about the
    size of a hand at arm's length from a webcam.
    """
    if samples.point_mask.all():
        return landmark_extent(samples.landmarks, samples.image_size)
    return (samples.image_size.max(axis=1) * 0.2).astype(np.float32)


def features_for(samples: Samples) -> np.ndarray:
    """Return the feature matrix (N, size) of a batch of samples of any family."""
    family = samples.family
    if family == "static_single":
        return hand_shape(samples.landmarks[:, 0, 0], samples.image_size)
    if family == "static_double":
        return two_hand_shape(samples.landmarks[:, 0], samples.image_size)
    extent = hand_extent(samples)
    if family == "dynamic_single":
        return fingertip_path(samples.landmarks[:, :, 0], samples.image_size, extent)
    paths = [
        fingertip_path(samples.landmarks[:, :, hand], samples.image_size, extent)
        for hand in range(2)
    ]
    return np.concatenate(paths, axis=1)


def mirror(features: np.ndarray, family: str) -> np.ndarray:
    """Return the features of the mirror image, used to train both hands alike."""
    mirrored = np.array(features, dtype=np.float32, copy=True)
    if family == "static_double":
        hands = mirrored[:, : 2 * HAND_VALUES].reshape(len(mirrored), 2, HAND_VALUES)
        hands[:, :, 0::2] *= -1
        # The mirror swaps which hand is left-most, which keeps the x offset and
        # negates the y offset. The offset stays in the old first hand's units,
        # a small error when both hands are about the same size.
        mirrored[:, : 2 * HAND_VALUES] = hands[:, ::-1].reshape(len(mirrored), -1)
        mirrored[:, -1] *= -1
        return mirrored
    mirrored[:, 0::2] *= -1
    return mirrored
