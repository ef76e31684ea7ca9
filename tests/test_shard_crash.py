"""A shard writer killed with SIGKILL leaves whole shards or none, never a part."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gestured.dataset import iter_shards, load_shard

REPO = Path(__file__).resolve().parents[1]

# Writes big random shards in a loop until killed.
WRITER = """
import sys
import numpy as np
from gestured.dataset import Samples, write_shard

rng = np.random.default_rng(int(sys.argv[2]))
n = 20_000
while True:
    samples = Samples.build(
        "static_single",
        rng.random((n, 21, 3), dtype=np.float32),
        ["five"] * n,
        "crash-test",
    )
    write_shard(sys.argv[1], samples)
    print("wrote", flush=True)
"""


def wait_for_temporary(folder: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob(".*.tmp")):
        if time.monotonic() > deadline:
            raise AssertionError(f"no temporary shard file within {timeout} s")
        time.sleep(0.001)


@pytest.mark.slow
def test_killed_writer_leaves_no_partial_shard(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "daemon"))
    rng = random.Random(1234)
    kills_during_write = 0
    for round_index in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(round_index)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            if round_index % 2:
                # Odd rounds aim the kill into the write itself: wait until a
                # temporary file appears, then kill within a few milliseconds.
                wait_for_temporary(tmp_path, timeout=20)
                time.sleep(rng.random() * 0.01)
            else:
                # The child needs about a second to import numpy and start.
                time.sleep(0.8 + rng.random() * 1.5)
            kills_during_write += bool(list(tmp_path.glob(".*.tmp")))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
            if child.stdout:
                child.stdout.close()
    shard_paths = list(iter_shards(tmp_path))
    assert shard_paths, "no writer finished a shard in 20 rounds"
    for path in shard_paths:
        assert len(load_shard(path)) == 20_000, path
    # iter_shards removes temporaries that killed writers left behind.
    assert not list(tmp_path.glob(".*.tmp"))
    assert kills_during_write > 0, "no kill landed while a shard was being written"
