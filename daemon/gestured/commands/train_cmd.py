"""`gestured train`: train the static one-hand base model and write its folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from gestured.errors import GesturedError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train the static one-hand base model (needs tensorflow)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", type=Path, help="dataset folder of shards")
    source.add_argument(
        "--data-root",
        type=Path,
        help="folder with kinivi/ and handsdataset/: import them, then train",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("models"), help="models folder"
    )
    parser.add_argument(
        "--heldout-source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="source id kept out of training for the held-out score; repeatable "
        "(default: the two held-out photo sequences)",
    )
    parser.add_argument(
        "--exclude-source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="source id used neither for training nor scoring; repeatable",
    )
    parser.add_argument(
        "--exclude-label",
        action="append",
        default=[],
        metavar="LABEL",
        help="leave this gesture out of the model; repeatable",
    )
    parser.add_argument("--epochs", type=int, default=40, help="training epochs")
    parser.add_argument("--version", help="model version (default: YYYYMMDD.1)")
    parser.add_argument(
        "--quiet", action="store_true", help="one line per epoch, no progress bar"
    )
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise GesturedError(f"--epochs must be at least 1, got {args.epochs}")
    try:
        from gestured.training import build
        from gestured.training.static_single import (
            DEFAULT_HELDOUT,
            TrainOptions,
            train_static_single,
        )
    except ImportError as exc:
        raise GesturedError(
            f"training needs the train extra (tensorflow, matplotlib): {exc}"
        ) from exc
    verbose = 2 if args.quiet else 1
    if args.data_root:
        result = build.build(
            args.data_root,
            args.out,
            epochs=args.epochs,
            verbose=verbose,
            exclude_labels=tuple(args.exclude_label),
        )
    else:
        options = TrainOptions(
            dataset=args.dataset,
            out=args.out,
            heldout_sources=tuple(args.heldout_source) or DEFAULT_HELDOUT,
            exclude_sources=tuple(args.exclude_source),
            exclude_labels=tuple(args.exclude_label),
            epochs=args.epochs,
            verbose=verbose,
        )
        if args.version:
            options.version = args.version
        result = train_static_single(options)
    print(
        f"{result.folder}: {len(result.labels)} labels, {result.train_samples} "
        f"training samples, held-out top-1 {result.heldout_top1:.3f} (float32), "
        f"{result.heldout_top1_int8:.3f} (int8) on {result.heldout_samples}"
    )
    return 0
