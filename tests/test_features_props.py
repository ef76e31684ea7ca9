"""Hand-shape features ignore where the hand is and how big it appears."""

from __future__ import annotations

import numpy as np
from gestured.dataset import Samples
from gestured.features import features_for, hand_shape, mirror
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

# Bounds that float32 represents exactly, as hypothesis requires for width 32.
coordinates = st.floats(0.0625, 0.9375, allow_nan=False, width=32)
hands = arrays(np.float32, (21, 3), elements=coordinates).filter(
    lambda points: np.ptp(points[:, :2], axis=0).max() > 0.02
)


@settings(max_examples=200, deadline=None)
@given(
    hand=hands,
    shift=st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)),
    scale=st.floats(0.2, 3.0),
)
def test_hand_shape_ignores_shift_and_scale(
    hand: np.ndarray, shift: tuple[float, float], scale: float
) -> None:
    size = np.array([800, 600])
    moved = hand.copy()
    moved[:, :2] = hand[:, :2] * scale + np.asarray(shift, np.float32)
    assert np.allclose(hand_shape(hand, size), hand_shape(moved, size), atol=1e-4)


@settings(max_examples=50, deadline=None)
@given(hand=hands)
def test_mirror_equals_flipped_image(hand: np.ndarray) -> None:
    size = np.array([640, 480])
    flipped = hand.copy()
    flipped[:, 0] = 1.0 - hand[:, 0]
    expected = hand_shape(flipped, size)[None]
    mirrored = mirror(hand_shape(hand, size)[None], "static_single")
    # float32 rounding of 1 - x differs from the negation by up to about 1e-5.
    assert np.allclose(mirrored, expected, atol=1e-4)


def test_batch_features_match_single_rows() -> None:
    rng = np.random.default_rng(3)
    points = rng.random((50, 21, 3), dtype=np.float32)
    sizes = np.tile([[640, 480], [800, 600]], (25, 1))
    samples = Samples.build(
        "static_single", points, ["one"] * 50, "s", image_size=sizes
    )
    batch = features_for(samples)
    assert batch.shape == (50, 42)
    for index in range(50):
        single = hand_shape(points[index], sizes[index])
        assert np.allclose(batch[index], single), index
