"""Label mapping and CSV reading shared by the importers."""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from gestured.dataset.schema import LABEL_PATTERN
from gestured.errors import DatasetError

logger = logging.getLogger(__name__)

# Gestures the base models know, per kind of model family.
STATIC_VOCABULARY = ("fist", "one", "two", "three", "four", "five", "ok")
DYNAMIC_VOCABULARY = ("stop", "clockwise", "counter_clockwise", "move")
FINGER_LABELS = ("fist", "one", "two", "three", "four", "five")

# CSV files larger than this are rejected before parsing.
MAX_CSV_BYTES = 64 * 1024 * 1024


def parse_mapping(
    pairs: Iterable[str], defaults: Mapping[str, str], vocabulary: Iterable[str]
) -> dict[str, str]:
    """Merge `SRC=DST` pairs over `defaults`; every DST must be in `vocabulary`."""
    allowed = tuple(vocabulary)
    mapping = dict(defaults)
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source.strip():
            raise DatasetError(f"invalid label mapping {pair!r}: expected SRC=DST")
        mapping[source.strip()] = target.strip()
    for source, target in mapping.items():
        if not LABEL_PATTERN.fullmatch(target):
            raise DatasetError(
                f"invalid label {target!r} for {source!r}: use 1 to 32 letters, "
                "digits, '_' or '-'"
            )
        if target not in allowed:
            raise DatasetError(
                f"label {target!r} for {source!r} is not in the vocabulary: "
                f"expected one of {', '.join(allowed)}"
            )
    return mapping


def read_csv_rows(
    path: Path, columns: int, *, header: list[str] | None = None
) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of a CSV file with exactly `columns` fields.

    A byte-order mark is skipped. With `header`, the first row must equal it.
    Any row with another field count raises DatasetError naming file and line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: file not found") from exc
    if size > MAX_CSV_BYTES:
        raise DatasetError(f"{path}: {size} bytes exceeds the CSV size limit")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for index, row in enumerate(csv.reader(handle)):
                line = index + 1
                if not row:
                    continue
                if header is not None and index == 0:
                    if [field.strip() for field in row] != header:
                        raise DatasetError(
                            f"{path}:1: expected header {','.join(header)}"
                        )
                    continue
                if len(row) != columns:
                    raise DatasetError(
                        f"{path}:{line}: expected {columns} columns, got {len(row)}"
                    )
                yield line, row
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc})") from exc
    except csv.Error as exc:
        raise DatasetError(f"{path}: invalid CSV ({exc})") from exc


def parse_float(value: str, path: Path, line: int) -> float:
    """Parse a finite number; NaN and infinity name the file and line."""
    try:
        number = float(value)
    except ValueError as exc:
        raise DatasetError(f"{path}:{line}: invalid number {value[:40]!r}") from exc
    if not math.isfinite(number):
        raise DatasetError(f"{path}:{line}: number {value[:40]!r} is not finite")
    return number


def parse_int(value: str, path: Path, line: int) -> int:
    """Parse plain decimal digits, unlike int(), which also takes '0_0' or ' 1'."""
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise DatasetError(f"{path}:{line}: invalid integer {value[:40]!r}")
    return int(text)


def read_class_names(path: Path) -> list[str]:
    """Read a one-column class-name file (the row index is the class id)."""
    return [row[0].strip() for _, row in read_csv_rows(path, 1)]


def safe_child(folder: Path, name: str) -> Path:
    """Return folder/name for a plain file name, rejecting paths that leave `folder`."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
    ):
        raise DatasetError(f"invalid file name {name!r}: must be a plain file name")
    path = folder / name
    resolved_folder = folder.resolve()
    if path.resolve().parent != resolved_folder:
        raise DatasetError(f"file name {name!r} leaves the folder {folder}")
    return path
