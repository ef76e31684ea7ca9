"""kill -9 during a recording and during a model write leaves usable files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gestured.dataset.schema import Samples
from gestured.dataset.shards import load_shard
from gestured.user.store import UserStore


def keypoint_samples(background, base_label, label, count=40):
    rows = background.features[background.labels == base_label][:count]
    return Samples.build(
        "static_single", rows.reshape(len(rows), 21, 2), [label] * len(rows), "t"
    )


DAEMON = str(Path(__file__).resolve().parents[2] / "daemon")


def start_child(code: str, tmp_path: Path) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": DAEMON}
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )


def kill_after_ready(child: subprocess.Popen, delay: float) -> None:
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def test_kill_during_recording(tmp_path, kinivi_background):
    store = UserStore(tmp_path / "state")
    earlier = store.add_shard(keypoint_samples(kinivi_background, "OK", "okay"))
    child = start_child(
        """
        import sys, time, numpy as np
        from pathlib import Path
        from gestured.landmarks.base import Hand
        from gestured.user.recorder import Recorder, RecordRequest
        from gestured.user.store import UserStore
        store = UserStore(Path(sys.argv[1]) / "state")
        request = RecordRequest("wave", samples=500, countdown=0, timeout=300)
        recorder = Recorder(request, store.add_shard, print)
        hand = Hand(np.random.default_rng(0).random((21, 3), np.float32), "right", 1)
        t = 0.0
        while True:
            recorder.feed([hand], (640, 480), t)
            t += 0.01
            time.sleep(0.01)
            if recorder.collected == 100:
                print("ready", flush=True)
        """,
        tmp_path,
    )
    kill_after_ready(child, 0.2)
    reopened = UserStore(tmp_path / "state")
    assert reopened.shards() == [earlier]
    assert len(load_shard(earlier)) == 40
    assert reopened.labels() == {"static_single": {"okay": 40}}


def test_kill_during_model_write(tmp_path, kinivi_background):
    store = UserStore(tmp_path / "state")
    store.add_shard(keypoint_samples(kinivi_background, "OK", "okay"))
    old = store.refit("static_single", kinivi_background)
    for delay in (0.05, 0.3, 0.7):
        child = start_child(
            """
            import sys
            from pathlib import Path
            from gestured.user.model_file import save_model
            from gestured.user.store import UserStore
            store = UserStore(Path(sys.argv[1]) / "state")
            model = store.load_model("static_single")
            print("ready", flush=True)
            while True:
                save_model(model, store.model_path("static_single"))
            """,
            tmp_path,
        )
        kill_after_ready(child, delay)
        loaded = UserStore(tmp_path / "state").load_model("static_single")
        assert loaded.classes == old.classes
        assert (loaded.coef == old.coef).all()
