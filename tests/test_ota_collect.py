"""Sample sharing through a real Mosquitto with persistence, and the collector."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from gestured.dataset.shards import load_shard, shard_bytes, write_shard
from gestured.ota.collect import Collector, share_pending
from ota_fixtures import PahoLink, random_samples, running_broker

DEVICES = ("kitchen", "hall", "office")


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _record(folder: Path, device: str, index: int) -> Path:
    samples = random_samples(["fist", "wave"], 8, f"{device}-s{index}", seed=index)
    return write_shard(folder, samples)


def _stored(out: Path) -> dict[str, set[str]]:
    return {
        device: {p.name for p in (out / device).glob("*.npz")}
        for device in DEVICES
        if (out / device).is_dir()
    }


def test_shards_arrive_once_across_restarts(tmp_path):
    out = tmp_path / "collected"
    datasets = {device: tmp_path / "dev" / device for device in DEVICES}
    recorded: dict[str, list[Path]] = {device: [] for device in DEVICES}
    with running_broker(tmp_path / "broker") as broker:
        collector = Collector("127.0.0.1", broker.port, out)
        collector.start()
        assert collector.connected.wait(10)
        links = {device: PahoLink(device, broker.port) for device in DEVICES}
        try:

            def record_and_share(index: int) -> None:
                for device, link in links.items():
                    recorded[device].append(_record(datasets[device], device, index))
                    _wait(link.client.is_connected, 10, f"{device} to reconnect")
                    assert share_pending(link, datasets[device], timeout=10) == 1

            record_and_share(0)
            record_and_share(1)
            _wait(lambda: collector.stored == 6, 10, "the first 6 shards")
            collector.stop()
            record_and_share(2)  # queued by the broker for the absent collector
            broker.stop()
            broker.start()
            record_and_share(3)
            collector = Collector("127.0.0.1", broker.port, out)
            collector.start()
            record_and_share(4)
            _wait(lambda: sum(map(len, _stored(out).values())) == 15, 20, "15 shards")
            # A repeated delivery and a foreign payload store nothing new.
            again = recorded["hall"][0]
            links["hall"].publish("samples", again.read_bytes(), 1).wait_for_publish(5)
            links["office"].publish("samples", b"not a shard", 1).wait_for_publish(5)
            _wait(lambda: collector.rejected == 1, 10, "the foreign payload")
        finally:
            collector.stop()
            for link in links.values():
                link.close()
    stored = _stored(out)
    for device in DEVICES:
        expected = {
            f"static_single-{hashlib.sha256(p.read_bytes()).hexdigest()}.npz"
            for p in recorded[device]
        }
        assert stored[device] == expected
        for name in stored[device]:
            assert len(load_shard(out / device / name)) == 8


def test_collector_rejects_bad_topics_and_sizes(tmp_path):
    collector = Collector("127.0.0.1", 1, tmp_path, max_shard_bytes=4096)
    good = shard_bytes(random_samples(["fist"], 4, "s", 1))
    assert collector.handle("gestured/../samples", good) is None
    assert collector.handle("gestured/a/b/samples", good) is None
    assert collector.handle("gestured/dev/samples", good + b"\0" * 5000) is None
    assert collector.handle("gestured/dev/samples", good) is not None
    assert collector.rejected == 3
    assert [p.parent.name for p in tmp_path.rglob("*.npz")] == ["dev"]
