"""The on-device user model: a linear classifier over one family's features.

Each family has its own `UserModel`: an `SGDClassifier(loss="log_loss")`,
trained with `partial_fit` on standardized features plus one background class,
`__base__`, made of base-gesture samples from the base model's
`background.npz`. The background class lets the model say "not one of mine"
for the gestures the base model already knows.

A user label equal to a base label overrides the base gesture: background rows
with that label are left out of `__base__`, so the user's samples define it.

Models are immutable: `learn`, `refit` and `without` return a new model, so the
daemon can build one aside and swap it in with a single assignment. Files are
plain arrays in an `.npz`, never pickles.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

from gestured.dataset.schema import check_family, check_label
from gestured.errors import DatasetError
from gestured.features import FEATURE_SPECS, mirror
from gestured.user.background import Background

logger = logging.getLogger(__name__)

BACKGROUND_LABEL = "__base__"
# Labels starting with this prefix are reserved for classes like `__base__`.
RESERVED_PREFIX = "__"
# Features whose spread on the background is below this carry no information
# (the wrist is always the origin), so they keep a scale of 1.
MIN_SCALE = 1e-3


def check_user_label(label: str) -> str:
    """Return `label` if a user may teach it, else raise DatasetError."""
    check_label(label)
    if label.startswith(RESERVED_PREFIX):
        raise DatasetError(
            f"invalid label {label!r}: labels starting with "
            f"{RESERVED_PREFIX!r} are reserved"
        )
    return label


@dataclass(frozen=True)
class TrainingSettings:
    """How a user model trains; the defaults take about 20 ms for 50 samples.

    epochs: partial_fit passes, each over every user sample and a fresh
        background subsample of `background_per_epoch` rows.
    alpha: L2 regularization strength of the SGD classifier.
    mirror: add mirror images of static samples, so a gesture taught with one
        hand also works with the other. Mirror-image pairs (point left, point
        right) then look alike. Dynamic families are never mirrored.
    """

    epochs: int = 10
    background_per_epoch: int = 1000
    alpha: float = 1e-4
    mirror: bool = True
    seed: int = 0


class UserModel:
    """A trained user model of one family; build one with `train`."""

    def __init__(
        self,
        family: str,
        classes: Sequence[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        mean: np.ndarray,
        scale: np.ndarray,
        counts: Sequence[int],
        base_version: str = "",
    ) -> None:
        check_family(family)
        self.family = family
        self.feature = FEATURE_SPECS[family]
        self.classes: tuple[str, ...] = tuple(str(label) for label in classes)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.counts = tuple(int(count) for count in counts)
        self.base_version = base_version
        # Rebuilt from plain arrays; predict_proba needs only these attributes.
        classifier = SGDClassifier(loss="log_loss")
        classifier.classes_ = np.array(self.classes)
        classifier.coef_ = np.asarray(coef, dtype=np.float64)
        classifier.intercept_ = np.asarray(intercept, dtype=np.float64)
        classifier.n_features_in_ = self.feature.size
        classifier.t_ = 1.0
        self._classifier = classifier

    @property
    def coef(self) -> np.ndarray:
        return self._classifier.coef_

    @property
    def intercept(self) -> np.ndarray:
        return self._classifier.intercept_

    @property
    def labels(self) -> list[str]:
        """The user labels, without the background class."""
        return [label for label in self.classes if label != BACKGROUND_LABEL]

    def sample_count(self, label: str) -> int:
        return self.counts[self.classes.index(label)] if label in self.classes else 0

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Return probabilities (N, len(classes)) for features (N, size)."""
        matrix = np.asarray(features, dtype=np.float64).reshape(-1, self.feature.size)
        return self._classifier.predict_proba((matrix - self.mean) / self.scale)

    @classmethod
    def train(
        cls,
        family: str,
        features: np.ndarray,
        labels: Sequence[str],
        background: Background,
        settings: TrainingSettings | None = None,
    ) -> UserModel:
        """Train a new model from scratch on all of a user's samples."""
        if background.family != family:
            raise ValueError(f"background of {background.family} used for {family}")
        spread = background.features.std(axis=0).astype(np.float64)
        mean = background.features.mean(axis=0).astype(np.float64)
        scale = np.where(spread >= MIN_SCALE, spread, 1.0)
        return _fit(
            family,
            features,
            labels,
            background,
            settings or TrainingSettings(),
            mean=mean,
            scale=scale,
            start=None,
            counts=dict(Counter(str(label) for label in labels)),
        )

    def learn(
        self,
        features: np.ndarray,
        labels: Sequence[str],
        background: Background,
        *,
        replay_features: np.ndarray | None = None,
        replay_labels: Sequence[str] = (),
        settings: TrainingSettings | None = None,
    ) -> UserModel:
        """Return a new model that also knows the new samples.

        Training starts from this model's weights and keeps its scaling. The
        replay samples (earlier recordings) must cover every label this model
        knows, because one-vs-rest training on new samples alone pushes the
        other labels' scores down.
        """
        new_labels = [check_user_label(label) for label in labels]
        replay = list(replay_labels)
        missing = set(self.labels) - set(new_labels) - set(replay)
        if missing:
            raise ValueError(
                f"replay samples missing for label(s) {', '.join(sorted(missing))}"
            )
        matrix = _as_matrix(features, self.feature.size)
        if replay_features is not None and len(replay):
            matrix = np.concatenate(
                [matrix, _as_matrix(replay_features, self.feature.size)]
            )
        else:
            replay = []
        counts = {label: self.sample_count(label) for label in self.labels}
        for label in new_labels:
            counts[label] = counts.get(label, 0) + 1
        start = dict(zip(self.classes, _rows_per_class(self), strict=True))
        return _fit(
            self.family,
            matrix,
            new_labels + replay,
            background,
            settings or TrainingSettings(),
            mean=self.mean,
            scale=self.scale,
            start=start,
            counts=counts,
        )

    def without(
        self,
        label: str,
        features: np.ndarray,
        labels: Sequence[str],
        background: Background,
        settings: TrainingSettings | None = None,
    ) -> UserModel | None:
        """Return a model refit from scratch without `label`, or None if empty."""
        keep = np.asarray(labels) != label
        if not keep.any():
            return None
        return UserModel.train(
            self.family,
            _as_matrix(features, self.feature.size)[keep],
            list(np.asarray(labels)[keep]),
            background,
            settings,
        )


def _as_matrix(features: np.ndarray, size: int) -> np.ndarray:
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != size:
        raise ValueError(f"features must have shape (N, {size}), got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("features contain NaN or infinity")
    return matrix


def _rows_per_class(model: UserModel) -> list[tuple[np.ndarray, float]]:
    """Return one (weights, intercept) pair per class, also for binary models."""
    coef, intercept = model.coef, model.intercept
    if len(model.classes) == 2:
        # A binary SGDClassifier stores one row for the second class.
        return [(-coef[0], -float(intercept[0])), (coef[0], float(intercept[0]))]
    return [(coef[index], float(intercept[index])) for index in range(len(coef))]


def _fit(
    family: str,
    features: np.ndarray,
    labels: Sequence[str],
    background: Background,
    settings: TrainingSettings,
    *,
    mean: np.ndarray,
    scale: np.ndarray,
    start: dict[str, tuple[np.ndarray, float]] | None,
    counts: dict[str, int],
) -> UserModel:
    size = FEATURE_SPECS[family].size
    user_x = _as_matrix(features, size)
    user_y = np.array([check_user_label(label) for label in labels])
    if len(user_y) != len(user_x) or not len(user_y):
        raise ValueError("need one label per sample and at least one sample")
    # A user label that matches a base label replaces that base gesture.
    keep = ~np.isin(background.labels, user_y)
    background_x = background.features[keep].astype(np.float64)
    if not len(background_x):
        raise ValueError("no background samples left to train against")
    if settings.mirror and family.startswith("static"):
        user_x = np.concatenate([user_x, mirror(user_x, family)])
        user_y = np.concatenate([user_y, user_y])
        background_x = np.concatenate([background_x, mirror(background_x, family)])
    classes = sorted({*user_y.tolist(), BACKGROUND_LABEL})
    rng = np.random.default_rng(settings.seed)
    per_epoch = min(settings.background_per_epoch, len(background_x))
    # Each user label weighs as much in total as the background subsample.
    label_of, label_counts = np.unique(user_y, return_counts=True)
    weight_of = dict(zip(label_of.tolist(), per_epoch / label_counts, strict=True))
    user_w = np.array([weight_of[label] for label in user_y.tolist()])
    classifier = SGDClassifier(
        loss="log_loss",
        alpha=settings.alpha,
        average=True,
        max_iter=1,
        tol=None,
        random_state=settings.seed,
    )
    for epoch in range(settings.epochs):
        chosen = rng.choice(len(background_x), per_epoch, replace=False)
        x = np.concatenate([user_x, background_x[chosen]])
        y = np.concatenate([user_y, np.full(per_epoch, BACKGROUND_LABEL)])
        w = np.concatenate([user_w, np.ones(per_epoch)])
        order = rng.permutation(len(x))
        x = (x[order] - mean) / scale
        if epoch == 0:
            coef_init, intercept_init = _initial_weights(classes, start, size)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                classifier.fit(
                    x,
                    y[order],
                    coef_init=coef_init,
                    intercept_init=intercept_init,
                    sample_weight=w[order],
                )
        else:
            classifier.partial_fit(x, y[order], sample_weight=w[order])
    if list(classifier.classes_) != classes:
        raise RuntimeError("classifier classes differ from the training labels")
    totals = {**counts, BACKGROUND_LABEL: int(keep.sum())}
    return UserModel(
        family,
        classes,
        classifier.coef_,
        classifier.intercept_,
        mean,
        scale,
        [totals.get(label, 0) for label in classes],
        background.base_version,
    )


def _initial_weights(
    classes: list[str], start: dict[str, tuple[np.ndarray, float]] | None, size: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not start:
        return None, None
    rows = [start.get(label, (np.zeros(size), 0.0)) for label in classes]
    coef = np.array([row[0] for row in rows])
    intercept = np.array([row[1] for row in rows])
    if len(classes) == 2:
        return coef[1], intercept[1:]
    return coef, intercept
