"""The on-device model store: versions, atomic swaps, rollback, kill -9 safety."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gestured.base_model import BaseModel
from gestured.ota.store import ModelStore, StoreError
from ota_fixtures import make_model_set, tiny_tflite

DAEMON_DIR = Path(__file__).resolve().parents[1] / "daemon"


@pytest.fixture(scope="module")
def model_sets(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("sets")
    return [make_model_set(root / f"s{i}", tiny_tflite(i), f"s{i}") for i in (1, 2)]


def _loads(folder: Path | None) -> str:
    assert folder is not None
    assert folder.is_dir()
    return BaseModel.load(folder / "static_single").version


def test_activate_rollback_and_prune(tmp_path, model_sets):
    store = ModelStore(tmp_path)
    assert store.current_folder() is None
    for version in range(1, 5):
        store.install(model_sets[version % 2], version)
        store.activate(version)
    assert store.current_version() == 4
    assert store.previous_version() == 3
    assert store.installed_versions() == [3, 4]
    assert _loads(store.current_folder()) == "s1"
    store.rollback()
    assert store.current_version() == 3
    assert store.previous_version() == 4
    assert _loads(store.current_folder()) == "s2"


def test_activate_missing_version_raises(tmp_path, model_sets):
    store = ModelStore(tmp_path)
    with pytest.raises(StoreError, match="not installed"):
        store.activate(7)
    store.install(model_sets[0], 1)
    store.activate(1)
    with pytest.raises(StoreError, match="no previous"):
        store.rollback()
    with pytest.raises(StoreError, match="is active"):
        store.install(model_sets[1], 1)


def test_cleanup_removes_leftovers(tmp_path, model_sets):
    store = ModelStore(tmp_path)
    store.adopt(model_sets[0])
    staging = store.staging_dir()
    (staging / "partial").write_bytes(b"x")
    os.symlink("versions/0", store.root / ".link-current-dead")
    store.cleanup()
    leftovers = [p.name for p in store.root.iterdir() if p.name.startswith(".")]
    assert leftovers == [".lock"]
    assert _loads(store.current_folder()) == "s1"


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gestured.ota.store import ModelStore

    store = ModelStore(Path(sys.argv[1]))
    sources = [Path(p) for p in sys.argv[2:]]
    version = (store.current_version() or 0) + 1 + len(store.installed_versions())
    print("ready", flush=True)
    while True:
        store.install(sources[version % 2], version)
        store.activate(version)
        if version % 3 == 0:
            store.rollback()
        version += 1
    """
)


def test_kill_during_swap_leaves_loadable_set(tmp_path, model_sets):
    state = tmp_path / "state"
    ModelStore(state).adopt(model_sets[0])
    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": str(DAEMON_DIR)}
    swaps_seen = set()
    for _ in range(50):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(state), *map(str, model_sets)],
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"ready"
            # A random moment inside the swap loop.
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=rng.uniform(0.001, 0.2))
            assert child.poll() is None, "the swap loop ended by itself"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            child.stdout.close()
        # What a daemon starting now would load, before any cleanup.
        store = ModelStore(state)
        swaps_seen.add(store.current_version())
        assert _loads(store.current_folder()) in ("s1", "s2")
        store.cleanup()
        assert _loads(store.current_folder()) in ("s1", "s2")
        assert len(store.installed_versions()) <= 2
    assert len(swaps_seen) > 10, "the child barely swapped before being killed"
