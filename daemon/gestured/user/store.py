"""The user's recordings and models under the daemon's state folder.

Layout: `samples/` contains immutable shards named `<family>-<stamp>-<id>.npz`
(one per recording; `<family>-<stamp>-imported-<id>.npz` for shards added by
`gestured user import`), `user_models/<family>.npz` the trained user models.
A shard that fails to load is skipped with an error log, so one corrupt file
does not block listing, training or deleting the others.

Deleting a label rewrites each shard that holds it as a filtered copy and then
removes the original. A journal file, written before the first change and
removed after the last, names the label and the shards. Until it is gone every
read leaves the label out, and the next `UserStore` opened on the folder
finishes the job, so a crash at any step neither resurrects the label nor
loses other samples. Replacement names are derived from the original name,
so redoing a step finds the copy it already wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_write_bytes
from gestured.dataset.schema import FAMILIES, Samples
from gestured.dataset.shards import (
    SHARD_SUFFIX,
    is_shard_name,
    iter_shards,
    load_shard,
    merge,
    shard_name,
    write_shard,
)
from gestured.errors import DatasetError, GesturedError
from gestured.features import features_for
from gestured.user.background import Background
from gestured.user.model import UserModel, check_user_label
from gestured.user.model_file import load_model, save_model

logger = logging.getLogger(__name__)

JOURNAL_NAME = "pending-delete.json"
IMPORTED_TAG = "imported"
# Earlier samples replayed per label when learning a new recording; enough
# to keep old labels in place while `learn` stays well under a second.
REPLAY_PER_LABEL = 200


class UserStore:
    """Shards and user models of one device, in `state_dir`."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.samples_dir = self.state_dir / "samples"
        self.models_dir = self.state_dir / "user_models"
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.recover()

    # Samples -----------------------------------------------------------------

    def shards(self, family: str | None = None) -> list[Path]:
        return list(iter_shards(self.samples_dir, family))

    def load_samples(
        self,
        family: str,
        exclude: Path | None = None,
        invalid: dict[str, str] | None = None,
    ) -> Samples | None:
        """Return every sample of `family`, or None when there are none.

        Shards that fail to load are skipped and logged; `invalid`, if given,
        receives their names and errors.
        """
        pending = self._pending_label()
        parts = []
        for path in self.shards(family):
            if exclude is not None and path.name == Path(exclude).name:
                continue
            try:
                samples = load_shard(path)
            except DatasetError as exc:
                logger.error("Skipping invalid shard %s: %s", path.name, exc)
                if invalid is not None:
                    invalid[path.name] = str(exc)
                continue
            if pending is not None:
                samples = samples.select(samples.labels != pending)
            parts.append(samples)
        if not any(len(part) for part in parts):
            return None
        return merge(parts)

    def add_shard(self, samples: Samples, imported: bool = False) -> Path:
        """Write a new shard; `imported` marks it as not recorded here."""
        for label in np.unique(samples.labels).tolist():
            check_user_label(label)
        name = shard_name(samples.family, tag=IMPORTED_TAG if imported else "")
        return write_shard(self.samples_dir, samples, name)

    def labels(self) -> dict[str, dict[str, int]]:
        """Return sample counts per label for each family that has samples."""
        return self.scan()[0]

    def scan(self) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
        """Return the counts of `labels()` and the invalid shards' errors by name."""
        counts = {}
        invalid: dict[str, str] = {}
        for family in FAMILIES:
            samples = self.load_samples(family, invalid=invalid)
            if samples is not None:
                counts[family] = dict(sorted(Counter(samples.labels.tolist()).items()))
        return counts, invalid

    # Models ------------------------------------------------------------------

    def model_path(self, family: str) -> Path:
        if family not in FAMILIES:
            raise DatasetError(f"unknown model family {family!r}")
        return self.models_dir / f"{family}.npz"

    def load_model(self, family: str) -> UserModel | None:
        """Return the saved model, None if there is none; ModelError if corrupt."""
        path = self.model_path(family)
        if not path.exists():
            return None
        return load_model(path)

    def learn_shard(self, shard: Path, background: Background) -> UserModel:
        """Teach the saved model one new shard, save and return the new model."""
        samples = load_shard(shard)
        family = samples.family
        current = self.load_model(family)
        if current is None or current.feature.size != background.features.shape[1]:
            return self.refit(family, background) or _no_samples(family)
        earlier = self.load_samples(family, exclude=shard)
        replay_x, replay_y = _replay(earlier)
        model = current.learn(
            features_for(samples),
            samples.labels.tolist(),
            background,
            replay_features=replay_x,
            replay_labels=replay_y,
        )
        save_model(model, self.model_path(family))
        return model

    def refit(self, family: str, background: Background) -> UserModel | None:
        """Train the model of `family` from all samples; None removes it."""
        samples = self.load_samples(family)
        path = self.model_path(family)
        if samples is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                logger.info("Removed %s user model: no samples left", family)
            return None
        model = UserModel.train(
            family, features_for(samples), samples.labels.tolist(), background
        )
        save_model(model, path)
        return model

    # Deleting ----------------------------------------------------------------

    def delete_label(self, label: str) -> dict[str, int]:
        """Remove every sample of `label`; return the count removed per family.

        Models are not retrained here; call `refit` for each family returned.
        """
        check_user_label(label)
        holding = {}
        for path in self.shards():
            try:
                samples = load_shard(path)
            except DatasetError as exc:
                logger.error("Skipping invalid shard %s: %s", path.name, exc)
                continue
            count = int((samples.labels == label).sum())
            if count:
                holding[path.name] = (samples.family, count)
        if not holding:
            return {}
        journal = {"label": label, "shards": sorted(holding)}
        atomic_write_bytes(
            self.samples_dir / JOURNAL_NAME, json.dumps(journal).encode()
        )
        self._finish_delete(label, sorted(holding))
        removed: Counter[str] = Counter()
        for family, count in holding.values():
            removed[family] += count
        return dict(removed)

    def recover(self) -> None:
        """Finish a delete that a crash interrupted.

        A journal that cannot be read or finished is renamed to
        `pending-delete.json.invalid` and logged, so a bad file never stops
        the daemon. The interrupted delete then stays unfinished.
        """
        journal_path = self.samples_dir / JOURNAL_NAME
        try:
            label = self._pending_label()
            if label is None:
                return
            journal = json.loads(journal_path.read_bytes())
            logger.warning("Finishing interrupted delete of label %s", label)
            self._finish_delete(label, journal["shards"])
        except (GesturedError, OSError, ValueError) as exc:
            aside = journal_path.with_name(f"{JOURNAL_NAME}.invalid")
            logger.error(
                "Could not finish the interrupted delete, moved %s to %s; "
                "samples of its label may remain: %s",
                journal_path,
                aside.name,
                exc,
            )
            with contextlib.suppress(FileNotFoundError):
                journal_path.replace(aside)

    def _finish_delete(self, label: str, names: list[str]) -> None:
        for name in names:
            path = self.samples_dir / Path(name).name
            if not is_shard_name(path.name) or not path.exists():
                continue
            try:
                samples = load_shard(path)
            except DatasetError as exc:
                logger.error("Skipping invalid shard %s: %s", path.name, exc)
                continue
            rest = samples.select(samples.labels != label)
            replacement = _replacement_name(path.name)
            if len(rest) and not (self.samples_dir / replacement).exists():
                write_shard(self.samples_dir, rest, replacement)
            path.unlink()
            logger.info("Removed label %s from shard %s", label, path.name)
        (self.samples_dir / JOURNAL_NAME).unlink()

    def _pending_label(self) -> str | None:
        path = self.samples_dir / JOURNAL_NAME
        if not path.exists():
            return None
        try:
            journal = json.loads(path.read_bytes())
            label = check_user_label(journal["label"])
            if not all(isinstance(name, str) for name in journal["shards"]):
                raise TypeError("shard names must be strings")
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}: invalid delete journal ({exc})") from exc
        return label


def is_recording_name(name: str) -> bool:
    """Return whether `name` is a shard recorded on this device, not imported."""
    return is_shard_name(name) and f"-{IMPORTED_TAG}-" not in name


def _replacement_name(name: str) -> str:
    # Keeps everything but the random last part, so the family, time stamp
    # and import tag survive a rewrite.
    kept = name[: -len(SHARD_SUFFIX)].rsplit("-", 1)[0]
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{kept}-{digest}{SHARD_SUFFIX}"


def _replay(samples: Samples | None) -> tuple[np.ndarray | None, list[str]]:
    if samples is None:
        return None, []
    rng = np.random.default_rng(0)
    keep = []
    for label in np.unique(samples.labels):
        index = np.flatnonzero(samples.labels == label)
        if len(index) > REPLAY_PER_LABEL:
            index = rng.choice(index, REPLAY_PER_LABEL, replace=False)
        keep.extend(index.tolist())
    chosen = samples.select(np.sort(np.array(keep)))
    return features_for(chosen), chosen.labels.tolist()


def _no_samples(family: str) -> UserModel:
    raise DatasetError(f"no {family} samples to learn from")
