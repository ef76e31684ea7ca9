"""The TFLite runtime choices: thread count and the Edge TPU fallback.

No Coral accelerator or libedgetpu exists on the test machines, so asking
for the Edge TPU exercises the real fallback path, not a mock.
"""

from __future__ import annotations

import logging

import numpy as np
from gestured.base_model import BaseModel
from real_data import REPO

MODEL = REPO / "models" / "static_single"


def test_edgetpu_falls_back_to_cpu_with_warning(caplog):
    caplog.set_level(logging.WARNING, logger="gestured.tflite")
    model = BaseModel.load(MODEL, edgetpu=True)
    probs = model.predict_proba(np.zeros((1, 42), dtype=np.float32))
    assert "Edge TPU delegate unavailable" in caplog.text
    assert probs.shape == (1, len(model.labels))
    assert np.isclose(probs.sum(), 1.0, atol=1e-3)


def test_thread_count_gives_same_answers():
    rows = np.random.default_rng(1).uniform(-1, 1, size=(20, 42)).astype(np.float32)
    single = BaseModel.load(MODEL, num_threads=1).predict_proba(rows)
    double = BaseModel.load(MODEL, num_threads=2).predict_proba(rows)
    assert np.allclose(single, double, atol=1e-5)


def test_int8_variant_agrees_with_float32():
    rows = np.random.default_rng(2).uniform(-1, 1, size=(50, 42)).astype(np.float32)
    exact = BaseModel.load(MODEL).predict_proba(rows).argmax(axis=1)
    quantized = BaseModel.load(MODEL, variant="int8").predict_proba(rows).argmax(axis=1)
    assert (exact == quantized).mean() >= 0.9
