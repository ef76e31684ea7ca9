"""The trainer `gestured retrain` runs for each model family.

`static_single` gets the trainer of `gestured train` (an ensemble of Keras
MLPs with augmentation, float32 and int8 export, a model card).

NOTE: the other families have no full trainer yet, so they fall back to the
small softmax trainer in `tiny_trainer` (float32 only, no model card). Swap
each in here once `training/` can train it.
"""

from __future__ import annotations

import time
from pathlib import Path

from gestured.dataset.schema import Samples
from gestured.ota.retrain import TrainFn
from gestured.ota.tiny_trainer import train_family

FULL_TRAINER_FAMILIES = ("static_single",)


def retrain_fn(
    *, epochs: int = 40, members: int = 5, seed: int = 7, tiny_epochs: int = 40
) -> TrainFn:
    """Return the retrain hook: full trainer where there is one, else the small one."""

    def train(train: Samples, val: Samples, labels: list[str], out_dir: Path) -> Path:
        out_dir = Path(out_dir)
        if train.family not in FULL_TRAINER_FAMILIES:
            return train_family(train, val, labels, out_dir, epochs=tiny_epochs)
        from gestured.training.static_single import TrainOptions, train_samples

        options = TrainOptions(
            dataset=out_dir,
            out=out_dir.parent,
            epochs=epochs,
            members=members,
            seed=seed,
            version=time.strftime("%Y%m%d.%H%M%S", time.gmtime()),
            verbose=0,
        )
        sessions = len(set(val.sources.tolist()))
        split_text = (
            "By recording session, never by sample: base data and shared "
            f"recordings, {sessions} sessions held out by a stable hash of "
            "their names."
        )
        return train_samples(train, val, labels, out_dir, options, split_text).folder

    return train
