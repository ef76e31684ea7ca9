"""The per-frame decision of a family: user model first, then the base model."""

from __future__ import annotations

import logging
import threading

import numpy as np

from gestured.base_model import BaseModel
from gestured.runtime.pipeline import Decision
from gestured.user.hybrid import decide
from gestured.user.model import UserModel

logger = logging.getLogger(__name__)


class HybridDecider:
    """Calls the hybrid decision with the current base and user models.

    A new user model replaces the old one with a single assignment, so the
    frame loop never waits for training and never reads half a model.
    """

    def __init__(
        self,
        models: dict[str, BaseModel],
        *,
        base_threshold: float,
        user_threshold: float,
    ) -> None:
        self.models = models
        self.base_threshold = base_threshold
        self.user_threshold = user_threshold
        self.user_models: dict[str, UserModel | None] = {}
        self._lock = threading.Lock()

    def set_user_model(self, family: str, model: UserModel | None) -> None:
        with self._lock:
            self.user_models = {**self.user_models, family: model}
        labels = model.labels if model is not None else []
        logger.info("User model for %s now recognizes %s", family, labels or "nothing")

    def labels(self) -> set[str]:
        """Return every gesture name the base and user models can produce."""
        names = {label for model in self.models.values() for label in model.labels}
        for model in self.user_models.values():
            if model is not None:
                names.update(model.labels)
        return names

    def _user_probabilities(
        self, family: str, user: UserModel, features: np.ndarray
    ) -> np.ndarray | None:
        """Return the user model's probabilities, or None after dropping it.

        A user model that fails on a frame would fail on every frame, so it is
        dropped once and the family runs on the base model until a new user
        model is set.
        """
        try:
            probs = user.predict_proba(features[None, :])[0]
            if not np.isfinite(probs).all():
                raise ValueError("probabilities contain NaN or infinity")
        except Exception as exc:  # noqa: BLE001 - sklearn raises many types
            logger.error(
                "Dropping the %s user model, running on the base model alone: "
                "prediction failed (%s: %s)",
                family,
                type(exc).__name__,
                exc,
            )
            with self._lock:
                if self.user_models.get(family) is user:
                    self.user_models = {**self.user_models, family: None}
            return None
        return probs

    def __call__(
        self, family: str, probs: np.ndarray, features: np.ndarray
    ) -> Decision:
        base = self.models[family]
        user = self.user_models.get(family)
        user_labels: tuple[str, ...] = ()
        user_probs = None
        if user is not None:
            user_probs = self._user_probabilities(family, user, features)
            if user_probs is not None:
                user_labels = user.classes
        chosen = decide(
            base.labels,
            probs,
            user_labels,
            user_probs,
            user_threshold=self.user_threshold,
            base_threshold=self.base_threshold,
        )
        if chosen is None:
            return Decision(family, None, float(np.max(probs)), "base")
        return Decision(family, chosen.label, chosen.confidence, chosen.source)
