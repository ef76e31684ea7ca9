"""`gestured keys`, `publish`, `collect` and `retrain`: the update server side."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from gestured.errors import GesturedError


def register(subparsers: argparse._SubParsersAction) -> None:
    keys_parser = subparsers.add_parser("keys", help="bundle signing keys")
    actions = keys_parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    generate = actions.add_parser("generate", help="make an Ed25519 key pair")
    generate.add_argument("--out", type=Path, required=True, help="key folder")
    generate.set_defaults(handler=_keys_generate)

    publish = subparsers.add_parser("publish", help="write a signed model bundle")
    publish.add_argument("--models", type=Path, required=True, help="model set folder")
    publish.add_argument("--key", type=Path, required=True, help="private key file")
    publish.add_argument("--out", type=Path, required=True, help="bundle folder")
    publish.add_argument(
        "--version", type=int, required=True, help="bundle version, above the last"
    )
    publish.add_argument(
        "--expires-days", type=float, default=60, help="days until devices reject it"
    )
    publish.set_defaults(handler=_publish)

    collect = subparsers.add_parser("collect", help="store shards devices share")
    collect.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    collect.add_argument("--port", type=int, default=1883, help="MQTT broker port")
    collect.add_argument("--out", type=Path, required=True, help="collected folder")
    collect.add_argument(
        "--client-id", default="gestured-collector", help="fixed MQTT client id"
    )
    collect.set_defaults(handler=_collect)

    retrain = subparsers.add_parser("retrain", help="retrain and publish if better")
    retrain.add_argument("--base", type=Path, help="base dataset folder (shards)")
    retrain.add_argument("--collected", type=Path, required=True)
    retrain.add_argument(
        "--state", type=Path, required=True, help="server folder of published sets"
    )
    retrain.add_argument(
        "--seed-models", type=Path, help="model set to start from on the first run"
    )
    retrain.add_argument("--key", type=Path, required=True, help="private key file")
    retrain.add_argument("--out", type=Path, required=True, help="bundle folder")
    retrain.add_argument(
        "--min-devices",
        type=int,
        default=3,
        help="devices that must record a new label before it joins the base model",
    )
    retrain.add_argument("--epochs", type=int, default=40, help="epochs per model")
    retrain.add_argument(
        "--members", type=int, default=5, help="MLPs averaged by the full trainer"
    )
    retrain.set_defaults(handler=_retrain)


def _keys_generate(args: argparse.Namespace) -> int:
    from gestured.ota.keys import generate_keypair

    private, public = generate_keypair(args.out)
    print(f"private key: {private}\npublic key:  {public}")
    print(
        f"copy {public.name} to each device and set [update] public_key to "
        "its path there"
    )
    return 0


def _publish(args: argparse.Namespace) -> int:
    from gestured.ota.bundle import publish_bundle

    path = publish_bundle(
        args.models, args.key, args.out, args.version, expires_days=args.expires_days
    )
    print(path)
    return 0


def _collect(args: argparse.Namespace) -> int:
    from gestured.ota.collect import Collector

    collector = Collector(args.host, args.port, args.out, client_id=args.client_id)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    collector.start()
    stop.wait()
    collector.stop()
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from gestured.ota.retrain import retrain
    from gestured.ota.store import ModelStore
    from gestured.ota.trainers import retrain_fn

    if args.seed_models is not None:
        ModelStore(args.state).adopt(args.seed_models)
    train = retrain_fn(
        epochs=args.epochs, members=args.members, tiny_epochs=args.epochs
    )
    version, reports = retrain(
        args.base,
        args.collected,
        args.state,
        args.key,
        args.out,
        train,
        min_devices=args.min_devices,
    )
    for report in reports:
        print(
            f"{report.family}: current {report.current_accuracy} new "
            f"{report.new_accuracy} joined {report.joined} dropped {report.dropped}"
        )
    if version is None:
        raise GesturedError("new models are worse on held-out data, nothing published")
    print(f"published bundle version {version}")
    return 0
