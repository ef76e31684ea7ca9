"""Time the base-model training and single-hand classification latency.

    PYTHONPATH=daemon python bench/bench_training.py [--data-root DIR] [--models DIR]

Imports the recordings into a temporary dataset, trains the static one-hand
model into a temporary folder and prints the wall-clock times. Then it times
`hand_shape` plus `BaseModel.predict_proba` on one hand, as the daemon runs
them per frame, for the float32 and int8 TFLite models of `--models`.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from gestured.base_model import BaseModel
from gestured.features import hand_shape

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench_training(data_root: Path, epochs: int) -> None:
    from gestured.training.build import import_all
    from gestured.training.static_single import TrainOptions, train_static_single

    with tempfile.TemporaryDirectory() as scratch:
        dataset = Path(scratch) / "dataset"
        started = time.perf_counter()
        import_all(data_root, dataset)
        imported = time.perf_counter() - started
        started = time.perf_counter()
        result = train_static_single(
            TrainOptions(
                dataset=dataset,
                out=Path(scratch) / "models",
                exclude_sources=("counting-b", "counting-c"),
                epochs=epochs,
                verbose=0,
            )
        )
        trained = time.perf_counter() - started
    print(f"import (MediaPipe over photos and video): {imported:.1f} s")
    print(
        f"training ({result.train_samples} samples, {epochs} epochs, export, "
        f"scoring): {trained:.1f} s, held-out top-1 {result.heldout_top1:.3f}"
    )


def bench_latency(models: Path, repeats: int) -> None:
    rng = np.random.default_rng(0)
    hands = rng.random((repeats, 21, 3), dtype=np.float32)
    size = np.array([640, 480])
    for variant in ("float32", "int8"):
        model = BaseModel.load(models / "static_single", variant=variant)
        for hand in hands[:50]:
            model.predict_proba(hand_shape(hand, size))
        times = []
        for hand in hands:
            started = time.perf_counter()
            model.predict_proba(hand_shape(hand, size))
            times.append(time.perf_counter() - started)
        micro = np.asarray(times) * 1e6
        p50, p99 = np.percentile(micro, [50, 99])
        print(
            f"classify one hand, TFLite {variant}: p50 {p50:.0f} us, "
            f"p99 {p99:.0f} us ({repeats} runs)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("GESTURED_DATA", REPO.parent / "shared" / "data")),
    )
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5000)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cores = os.cpu_count()
    python = platform.python_version()
    print(f"machine: {cpu_model()}, {cores} cores, Python {python}")
    if not args.skip_training:
        bench_training(args.data_root, args.epochs)
    bench_latency(args.models, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
