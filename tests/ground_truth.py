"""Scoring gesture events against a video's per-frame ground truth."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

FINGER_LABELS = {
    "0": "fist",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
}


@dataclass
class Segment:
    """A run of frames with one ground-truth label, ends inclusive."""

    label: str
    start: int
    end: int
    events: list[int] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.end - self.start + 1


@dataclass
class Score:
    held: list[Segment]
    hit: list[Segment]
    total_events: int
    wrong: list[tuple[int, str]]
    repeated: int

    @property
    def hit_rate(self) -> float:
        return len(self.hit) / len(self.held) if self.held else 0.0

    @property
    def bad_rate(self) -> float:
        bad = len(self.wrong) + self.repeated
        return bad / self.total_events if self.total_events else 0.0

    def describe(self) -> str:
        return (
            f"{len(self.hit)}/{len(self.held)} held segments with exactly one "
            f"correct event, {self.total_events} events, wrong {self.wrong}, "
            f"repeated {self.repeated}; held segments: "
            + ", ".join(
                f"{s.label}[{s.start}-{s.end}]:{len(s.events)}" for s in self.held
            )
        )


def read_segments(csv_path: Path) -> list[Segment]:
    """Return the runs of equal labels in a `frame,…,fingers` ground-truth CSV."""
    segments: list[Segment] = []
    with Path(csv_path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            frame = int(row["frame"])
            label = FINGER_LABELS.get(row["fingers"], row["fingers"])
            if (
                segments
                and segments[-1].label == label
                and segments[-1].end == frame - 1
            ):
                segments[-1].end = frame
            else:
                segments.append(Segment(label, frame, frame))
    return segments


def score_events(
    events: list[tuple[int, str]],
    segments: list[Segment],
    fps: float,
    min_held_seconds: float = 1.0,
    lag_frames: int = 3,
) -> Score:
    """Match (frame, label) events to segments.

    An event counts for the segment its frame falls in when the labels agree,
    or for the segment just before when it came at most `lag_frames` late.
    Any other event is wrong; a second correct event in one segment repeats.
    """
    wrong = []
    for frame, label in events:
        for index, segment in enumerate(segments):
            if segment.start <= frame <= segment.end:
                previous = segments[index - 1] if index else None
                if label == segment.label:
                    segment.events.append(frame)
                elif (
                    previous is not None
                    and label == previous.label
                    and frame - previous.end <= lag_frames
                ):
                    previous.events.append(frame)
                else:
                    wrong.append((frame, label))
                break
        else:
            wrong.append((frame, label))
    held = [s for s in segments if s.frames >= min_held_seconds * fps]
    hit = [s for s in held if len(s.events) == 1]
    repeated = sum(max(len(s.events) - 1, 0) for s in segments)
    return Score(held, hit, len(events), wrong, repeated)
