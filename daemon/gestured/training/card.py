"""Evaluation figures and MODEL_CARD.md with its confusion matrix plot."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_write_bytes

CARD_NAME = "MODEL_CARD.md"
CONFUSION_NAME = "confusion.png"

SOURCES = """\
- kinivi/hand-gesture-recognition-mediapipe (Apache-2.0): 42-value hand
  keypoint rows logged with MediaPipe Hands from a webcam, classes Open, Close,
  Pointer and OK, mapped to five, fist, one and ok.
- SubhiH/HandsDataset (Apache-2.0): 800x600 webcam photos of one or two hands,
  each hand boxed and labelled with its count of raised fingers (0 to 5 map to
  fist, one, two, three, four, five), and videos joined from its capture
  sequences with per-frame labels.
"""


@dataclass
class Evaluation:
    labels: list[str]
    confusion: np.ndarray  # rows: true label, columns: predicted label
    top1: float
    samples: int

    @classmethod
    def of(
        cls, labels: list[str], truth: np.ndarray, predicted: np.ndarray
    ) -> Evaluation:
        size = len(labels)
        confusion = np.zeros((size, size), dtype=np.int64)
        np.add.at(confusion, (truth, predicted), 1)
        top1 = float((truth == predicted).mean()) if len(truth) else 0.0
        return cls(labels, confusion, top1, int(len(truth)))

    def precision_recall(self) -> list[tuple[str, float, float, int]]:
        rows = []
        for index, label in enumerate(self.labels):
            true_positive = self.confusion[index, index]
            predicted = self.confusion[:, index].sum()
            actual = self.confusion[index].sum()
            precision = true_positive / predicted if predicted else float("nan")
            recall = true_positive / actual if actual else float("nan")
            rows.append((label, float(precision), float(recall), int(actual)))
        return rows


def confusion_png(evaluation: Evaluation, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    size = len(evaluation.labels)
    figure, axes = plt.subplots(figsize=(1 + 0.8 * size, 0.8 + 0.8 * size))
    axes.imshow(evaluation.confusion, cmap="Blues")
    axes.set_xticks(range(size), evaluation.labels, rotation=45, ha="right")
    axes.set_yticks(range(size), evaluation.labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    peak = max(int(evaluation.confusion.max()), 1)
    for row in range(size):
        for column in range(size):
            value = int(evaluation.confusion[row, column])
            colour = "white" if value > peak / 2 else "black"
            axes.text(column, row, str(value), ha="center", va="center", color=colour)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _percent(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{100 * value:.1f}%"


def write_card(
    folder: Path,
    *,
    family: str,
    version: str,
    counts: dict[str, dict[str, int]],
    split: str,
    evaluation: Evaluation,
    int8_top1: float,
    training: str,
) -> None:
    """Write MODEL_CARD.md and confusion.png for a trained model."""
    atomic_write_bytes(
        folder / CONFUSION_NAME,
        confusion_png(evaluation, f"{family} {version}, held-out photos"),
    )
    sets = sorted(counts)
    count_rows = [["label", *sets]]
    for label in evaluation.labels:
        count_rows.append([label, *(str(counts[s].get(label, 0)) for s in sets)])
    count_rows.append(["total", *(str(sum(counts[s].values())) for s in sets)])
    metric_rows = [["label", "precision", "recall", "held-out samples"]]
    for label, precision, recall, support in evaluation.precision_recall():
        metric_rows.append([label, _percent(precision), _percent(recall), str(support)])
    text = f"""# Model card: {family} {version}

Classifies the shape of one hand from its 21 MediaPipe landmarks
(`hand-shape-v1`: x and y in pixels relative to the wrist, divided by the
largest absolute value) into: {", ".join(evaluation.labels)}.

## Data sources

{SOURCES}
## Split

{textwrap.fill(split, 79)}

## Samples per label

{_table(count_rows)}

## Held-out results

Top-1 on {evaluation.samples} held-out hands: {_percent(evaluation.top1)}
(TFLite float32), {_percent(int8_top1)} (TFLite int8).

{_table(metric_rows)}

![confusion matrix]({CONFUSION_NAME})

## Training

{textwrap.fill(training, 79)}

## Limits

The photos and videos show few people, indoors and outdoors in daylight.
Hands far from the camera, gloves and strong back light are not covered.
"""
    atomic_write_bytes(folder / CARD_NAME, text.encode())
