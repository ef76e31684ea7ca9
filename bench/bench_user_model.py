"""Time from the last recorded sample to a new user model that returns predictions.

Measures `UserStore.learn_shard` (write shard, load, learn with replay, save)
plus one `predict_proba`, for 50 samples of a new label on top of an existing
model, with kinivi keypoint rows as samples and as the background set.

Run: PYTHONPATH=daemon python bench/bench_user_model.py [REPEATS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gestured.dataset.schema import Samples
from gestured.user.background import Background
from gestured.user.store import UserStore

DATA = Path(
    os.environ.get(
        "GESTURED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
NAMES = ["Open", "Close", "Pointer", "OK"]


def samples_of(rows: np.ndarray, label: str) -> Samples:
    return Samples.build(
        "static_single", rows.reshape(len(rows), 21, 2), [label] * len(rows), "bench"
    )


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rows = np.loadtxt(DATA / "kinivi" / "keypoint.csv", delimiter=",", dtype=np.float32)
    labels = np.array(NAMES)[rows[:, 0].astype(int)]
    background = Background.build("static_single", rows[:, 1:], labels)
    timings = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory() as state:
            store = UserStore(Path(state))
            store.add_shard(samples_of(rows[labels == "OK", 1:][:50], "okay"))
            store.refit("static_single", background)
            new = samples_of(
                rows[labels == "Pointer", 1:][repeat : repeat + 50], "point"
            )
            start = time.perf_counter()
            shard = store.add_shard(new)
            model = store.learn_shard(shard, background)
            model.predict_proba(rows[:1, 1:])
            timings.append(time.perf_counter() - start)
    print(
        f"50 samples, last sample to answering model: median "
        f"{statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms "
        f"over {repeats} runs ({len(rows)} background rows)"
    )


if __name__ == "__main__":
    main()
