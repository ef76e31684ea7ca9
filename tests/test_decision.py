"""HybridDecider with a real base model and a user model that fails."""

from __future__ import annotations

import logging

import numpy as np
from daemon_process import models_dir
from gestured.base_model import BaseModel
from gestured.runtime.decision import HybridDecider
from gestured.user.background import load_background
from gestured.user.model import UserModel


def test_failing_user_model_dropped(caplog) -> None:
    folder = models_dir() / "static_single"
    base = BaseModel.load(folder)
    background = load_background(folder)
    features = background.features[:40]
    user = UserModel.train("static_single", features, ["mine"] * 40, background)
    # Bypasses file validation on purpose: a scale this small turns every
    # standardized feature into infinity, which sklearn rejects per frame.
    user.scale = np.full_like(user.scale, 1e-320)
    decider = HybridDecider(
        {"static_single": base}, base_threshold=0.5, user_threshold=0.5
    )
    decider.set_user_model("static_single", user)
    probs = base.predict_proba(features[:1])[0]
    with caplog.at_level(logging.ERROR, logger="gestured.runtime.decision"):
        for _ in range(30):
            decision = decider("static_single", probs, features[0])
    assert decision.source == "base"
    assert decider.user_models["static_single"] is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "static_single" in errors[0].getMessage()
