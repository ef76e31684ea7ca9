"""Loading the base models of the configured families from a models folder."""

from __future__ import annotations

import logging
from pathlib import Path

from gestured.base_model import MANIFEST_NAME, BaseModel, read_manifest
from gestured.dataset.schema import FAMILIES
from gestured.errors import ModelError

logger = logging.getLogger(__name__)


def load_base_models(
    models_dir: Path,
    families: list[str] | None = None,
    *,
    variant: str = "float32",
    num_threads: int = 1,
    edgetpu: bool = False,
) -> dict[str, BaseModel]:
    """Load every family in `families` (all four when None) that has a model.

    Families without a folder or whose manifest lists no files are skipped
    with a log line. A corrupt model always raises.
    """
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ModelError(
            f"models folder {models_dir} not found; set models_dir or pass "
            "--models-dir (a relative path is taken inside state_dir)"
        )
    wanted = list(families) if families else list(FAMILIES)
    models = {}
    for family in wanted:
        folder = models_dir / family
        if not (folder / MANIFEST_NAME).is_file():
            logger.info("No %s model folder in %s, skipping", family, models_dir)
            continue
        manifest = read_manifest(folder)
        if not manifest["files"]:
            logger.info("No trained %s model in %s, skipping", family, folder)
            continue
        models[family] = BaseModel.load(
            folder, variant=variant, num_threads=num_threads, edgetpu=edgetpu
        )
    if not models:
        raise ModelError(f"no trained model found in {models_dir}")
    return models
