"""Run every benchmark and write BENCHMARKS.md.

Each measurement runs in its own process, so CPU time and peak RSS come from
that process alone (getrusage of the finished child).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}"
    )


def run_child(command: list[str]) -> tuple[str, dict[str, float]]:
    """Run a command; return its stdout and its own CPU seconds and peak RSS."""
    path = os.pathsep.join(str(p) for p in (REPO / "daemon", REPO / "tests", REPO))
    env = {**os.environ, "PYTHONPATH": path}
    started = time.monotonic()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(
            command, stdout=stdout, stderr=stderr, env=env, cwd=REPO
        )
        # wait4 gives this child's own rusage, unlike RUSAGE_CHILDREN, which
        # keeps the largest RSS of every child so far.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        stdout.seek(0)
        stderr.seek(0)
        output = stdout.read().decode()
        if child.returncode != 0:
            sys.exit(
                f"{' '.join(command)} failed ({child.returncode}):\n"
                + stderr.read().decode()[-3000:]
            )
    return output, {
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "wall_s": round(wall, 2),
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


def stage_row(name: str, stats: dict, usage: dict[str, float]) -> str:
    stages = stats["stages"]
    cells = []
    for stage in ("decode", "landmarks", "features", "classify", "publish"):
        if stage in stages:
            cells.append(
                f"{stages[stage]['p50_ms']:.3f} / {stages[stage]['p99_ms']:.3f}"
            )
        else:
            cells.append("–")
    return (
        f"| {name} | {stats['fps']:.1f} | "
        + " | ".join(cells)
        + f" | {usage['cpu_s']:.1f} | {usage['peak_rss_mib']:.0f} |"
    )


ROUNDS = 3


def median_run(runs: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """Return the run with the median frame rate."""
    ordered = sorted(runs, key=lambda run: run[0]["fps"])
    return ordered[len(ordered) // 2]


def run_gestured(python: str, video: Path) -> tuple[dict, dict[str, float]]:
    with tempfile.TemporaryDirectory() as folder:
        stats_path = Path(folder) / "stats.json"
        _, usage = run_child(
            [
                python,
                "-m",
                "gestured",
                "--log-level",
                "WARNING",
                "run",
                "--no-mqtt",
                "--source",
                str(video),
                "--models-dir",
                str(REPO / "models"),
                "--state-dir",
                folder,
                "--stats-json",
                str(stats_path),
            ]
        )
        return json.loads(stats_path.read_text()), usage


def daemon_section(video: Path) -> list[str]:
    python = sys.executable
    bare_runs, gestured_runs = [], []
    # Alternate the two loops so that load from other jobs hits both alike,
    # then compare the median run of each.
    for _ in range(ROUNDS):
        out, usage = run_child([python, "bench/bare_loop.py", str(video)])
        bare_runs.append((json.loads(out), usage))
        gestured_runs.append(run_gestured(python, video))
    bare, bare_usage = median_run(bare_runs)
    gestured, gestured_usage = median_run(gestured_runs)
    after_landmarks = sum(
        gestured["stages"][s]["p99_ms"] for s in ("features", "classify", "publish")
    )
    tracker_out, _ = run_child([python, "bench/bench_tracker.py", str(video)])
    tracker = json.loads(tracker_out)
    lines = [
        f"## Daemon against the bare MediaPipe loop ({video.name})",
        "",
        "| run | fps | decode ms p50 / p99 | landmarks | features | classify "
        "| publish | CPU s | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        stage_row("bare MediaPipe loop (max_num_hands=1)", bare, bare_usage),
        stage_row("gestured run --no-mqtt", gestured, gestured_usage),
        "",
        f"Median of {ROUNDS} alternating runs each. gestured's throughput is "
        f"{100 * gestured['fps'] / bare['fps']:.0f}% of the "
        f"bare loop's. Everything after landmarks (features + classify + publish) "
        f"adds up to {after_landmarks:.3f} ms at p99 (sum of the stage p99s).",
        "",
        "Hand tracker alone, when two-hand families are loaded:",
        "",
        "| tracker | fps | frames with two hands | second-hand probes |",
        "| --- | --- | --- | --- |",
    ]
    names = ["one hand only", "max_num_hands=2 every frame", "adaptive probing"]
    for name, run in zip(names, tracker, strict=True):
        lines.append(
            f"| {name} | {run['fps']} | {run['two_hand_frames']} | {run['probes']} |"
        )
    return lines


def script_section(title: str, command: list[str]) -> list[str]:
    out, usage = run_child(command)
    return [
        f"## {title}",
        "",
        f"`{' '.join(command[1:])}` ({usage['wall_s']:.0f} s wall):",
        "",
        "```",
        out.strip(),
        "```",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    data = args.data.resolve()
    video = data / "handsdataset" / "videos" / "counting-a.mp4"
    if not video.is_file():
        sys.exit(f"benchmark video {video} not found; pass --data")
    python = sys.executable
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python bench/run_all.py`) on {machine()}, "
        f"{time.strftime('%Y-%m-%d')}. Each figure comes from one run unless it "
        "says otherwise; other jobs on the machine add noise.",
        "",
        *daemon_section(video),
        "",
    ]
    extra = [
        (
            "Training and classify latency",
            ["bench/bench_training.py", "--data-root", str(data)],
        ),
        ("User model: last sample to answering model", ["bench/bench_user_model.py"]),
        (
            "Teaching a gesture: accuracy before and after",
            ["bench/bench_teach.py", str(data)],
        ),
        (
            "Updates and retraining",
            ["bench/bench_ota.py", "--members", "1", "--epochs", "15"],
        ),
    ]
    for title, (script, *rest) in extra:
        if (REPO / script).is_file():
            lines += script_section(title, [python, script, *rest]) + [""]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
