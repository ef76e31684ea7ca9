"""Benchmarks of the update path: a check when nothing changed, and the retrain.

Run from the repository root:

    PYTHONPATH=daemon:tests python bench/bench_ota.py [--checks N] [--epochs N] \
        [--members N]

The retrain uses the kinivi keypoint recordings as base data (blocks of 100
consecutive rows form one source) with a third of the blocks handed to three
simulated devices as collected shards. The 10x case repeats the merged data
ten times with Gaussian jitter (sigma 0.01 on the normalized coordinates),
so it measures scale, not accuracy.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from gestured.dataset.schema import Samples
from gestured.dataset.shards import write_shard
from gestured.ota import keys
from gestured.ota.bundle import publish_bundle
from gestured.ota.retrain import retrain
from gestured.ota.store import ModelStore
from gestured.ota.trainers import retrain_fn
from gestured.ota.updater import NOT_MODIFIED, Updater
from ota_fixtures import make_model_set, serve_folder, tiny_tflite

DATA = Path(
    os.environ.get(
        "GESTURED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
BLOCK = 100


def bench_not_modified(work: Path, checks: int) -> list[float]:
    private, public = keys.generate_keypair(work / "keys")
    models = make_model_set(work / "m", tiny_tflite(1), "v1")
    publish_bundle(models, private, work / "www", 1)
    times = []
    with serve_folder(work / "www") as server:
        updater = Updater(ModelStore(work / "dev"), server.url, public.read_text())
        updater.check_now()
        for _ in range(checks):
            started = time.perf_counter()
            result = updater.check_now()
            times.append(time.perf_counter() - started)
            assert result.status == NOT_MODIFIED
    return times


def kinivi_samples() -> Samples:
    path = DATA / "kinivi" / "keypoint.csv"
    if not path.is_file():
        sys.exit(f"skipped: {path} not found (set GESTURED_DATA)")
    names = ["Open", "Close", "Pointer", "OK"]
    with path.open() as handle:
        rows = [row for row in csv.reader(handle) if row]
    labels = [names[int(row[0])] for row in rows]
    points = np.array([[float(v) for v in row[1:43]] for row in rows], np.float32)
    points = points.reshape(-1, 21, 2)
    sources = [f"kinivi-{i // BLOCK}" for i in range(len(rows))]
    return Samples.build("static_single", points, labels, sources)


def write_split(samples: Samples, base: Path, collected: Path, repeat: int) -> int:
    rng = np.random.default_rng(0)
    block = np.array([int(s.split("-")[1]) for s in samples.sources.tolist()])
    for copy in range(repeat):
        part = samples
        if copy:
            jitter = rng.normal(0, 0.01, samples.landmarks.shape).astype(np.float32)
            sources = np.char.add(samples.sources, f"-r{copy}")
            part = Samples(
                **{
                    **samples.__dict__,
                    "landmarks": samples.landmarks + jitter,
                    "sources": sources.astype(samples.sources.dtype),
                }
            )
        write_shard(base, part.select(block % 3 != 0))
        for device in range(3):
            chosen = (block % 3 == 0) & (block % 9 == device * 3)
            if chosen.any():
                write_shard(collected / f"device{device}", part.select(chosen))
    return len(samples) * repeat


def bench_retrain(
    work: Path, repeat: int, epochs: int, members: int
) -> tuple[int, float]:
    private, _ = keys.generate_keypair(work / "keys")
    count = write_split(kinivi_samples(), work / "base", work / "collected", repeat)
    # The trainer of `gestured retrain`; TensorFlow's export chatter on stdout
    # would bury the figures.
    train = retrain_fn(epochs=epochs, members=members)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        version, reports = retrain(
            work / "base",
            work / "collected",
            work / "server",
            private,
            work / "www",
            train,
        )
    elapsed = time.perf_counter() - started
    assert version == 1, reports
    score = (
        f"  held-out top-1 {reports[0].new_accuracy:.3f} on {reports[0].val_samples}"
    )
    if repeat > 1:
        # Jittered copies count as sessions of their own, so near-copies of a
        # training sample are held out too.
        score += " (inflated: jittered copies fall on both sides of the split)"
    print(score)
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--members", type=int, default=5)
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cpus"
    print(f"machine: {machine}, Python {platform.python_version()}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        times = bench_not_modified(Path(tmp), args.checks)
    print(
        f"304 check: median {statistics.median(times) * 1000:.2f} ms, "
        f"p95 {sorted(times)[int(len(times) * 0.95)] * 1000:.2f} ms "
        f"over {len(times)} checks"
    )
    for repeat in (1, 10):
        with tempfile.TemporaryDirectory() as tmp:
            count, elapsed = bench_retrain(Path(tmp), repeat, args.epochs, args.members)
        copies = "" if repeat == 1 else ", the data repeated with jitter sigma 0.01"
        print(
            f"retrain x{repeat}: {count} samples{copies}, {elapsed:.1f} s "
            f"({args.members} MLPs x {args.epochs} epochs, export and publish)"
        )


if __name__ == "__main__":
    main()
