"""The landmark dataset: schema version 1 shards in `.npz` files."""

from gestured.dataset.schema import (
    FAMILIES,
    LABEL_PATTERN,
    SCHEMA_VERSION,
    Samples,
    check_label,
)
from gestured.dataset.shards import (
    iter_shards,
    load_dataset,
    load_shard,
    merge,
    write_shard,
)

__all__ = [
    "FAMILIES",
    "LABEL_PATTERN",
    "SCHEMA_VERSION",
    "Samples",
    "check_label",
    "iter_shards",
    "load_dataset",
    "load_shard",
    "merge",
    "write_shard",
]
