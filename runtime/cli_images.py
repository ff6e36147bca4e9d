"""The image commands of ``python -m runtime``: pull, push, save, load.

    python -m runtime pull --registry http://127.0.0.1:5000 team/app:1
    python -m runtime push hello 127.0.0.1:5000/team/hello:1
    python -m runtime save -o hello.tar [--format oci|docker] hello
    python -m runtime load -i hello.tar [--format auto|docker|oci] [-t name]
    python -m runtime inspect hello | tag hello hello:v1 | rmi [-f] hello | prune

``--registry URL`` (repeatable; ``http://`` for a registry without TLS,
``http://user:password@host:port`` with a login) says where bare names are
pulled from and how to log in to a registry an image name names.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .container.manager import Containers
from .image import prune as pruning
from .image import transfer
from .image.registry import parse_registry
from .image.store import ImageStore


def registries(args) -> tuple:
    return tuple(parse_registry(url) for url in args.registry)


def add_registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", action="append", default=[], metavar="URL",
                        help="a registry to pull from or log in to (repeatable)")


def cmd_pull(args, config) -> int:
    image = transfer.pull(ImageStore(config), args.image, registries(args))
    print(f"{image.name} {image.short_id}")
    return 0


def cmd_push(args, config) -> int:
    image = transfer.push(ImageStore(config), args.image, args.destination, registries(args))
    print(f"pushed {image.name} to {args.destination}")
    return 0


def cmd_save(args, config) -> int:
    image = transfer.export_archive(ImageStore(config), args.image, Path(args.output), args.format)
    print(f"saved {image.name} to {args.output} ({args.format} archive)")
    return 0


def cmd_load(args, config) -> int:
    image = transfer.import_archive(ImageStore(config), Path(args.input), args.format, args.tag)
    print(f"loaded {image.name or '<none>'} {image.short_id}")
    return 0


def cmd_inspect(args, config) -> int:
    store = ImageStore(config)
    image = store.resolve(args.image)
    layers = [{"digest": d, "size": store.blob_path(d).stat().st_size} for d in image.layers]
    print(json.dumps({"Id": image.id, "Name": image.name, "Digest": image.manifest_digest,
                      "Size": store.size(image), "Layers": layers, "Config": image.config.get("config", {}),
                      "Created": image.config.get("created"), "History": image.config.get("history", [])},
                     indent=1))
    return 0


def cmd_tag(args, config) -> int:
    image = ImageStore(config).tag(args.image, args.name)
    print(f"{image.name} {image.short_id}")
    return 0


def cmd_rmi(args, config) -> int:
    store, used = ImageStore(config), Containers(config).image_users()
    for ref in args.images:
        image = pruning.remove_image(store, ref, used, force=args.force)
        print(f"untagged {image.name}")
    return 0


def cmd_prune(args, config) -> int:
    report = pruning.prune(ImageStore(config), set(Containers(config).image_users()), grace_seconds=args.grace)
    print(f"removed {len(report.images)} dangling image(s), {report.blobs} blob(s) and {report.layers} layer(s); "
          f"{report.bytes_freed} bytes freed")
    return 0


def add_commands(sub, wrap) -> None:
    """Add the image commands; ``wrap(fn)`` gives each the runtime config."""
    s = sub.add_parser("pull", help="pull an image from a registry")
    s.add_argument("image")
    add_registry_option(s)
    s.set_defaults(func=wrap(cmd_pull))
    s = sub.add_parser("push", help="push an image to a registry")
    s.add_argument("image")
    s.add_argument("destination", help="host[:port]/repository[:tag]")
    add_registry_option(s)
    s.set_defaults(func=wrap(cmd_push))
    s = sub.add_parser("save", help="write an image to an archive")
    s.add_argument("image")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--format", choices=sorted(transfer.FORMATS), default="oci")
    s.set_defaults(func=wrap(cmd_save), callers_file=True)
    s = sub.add_parser("load", help="read an image from an archive")
    s.add_argument("-i", "--input", required=True)
    s.add_argument("--format", choices=["auto", *sorted(transfer.FORMATS)], default="auto",
                   help="auto: told by what the archive holds")
    s.add_argument("-t", "--tag", help="the name to give it (a docker archive carries its own)")
    s.set_defaults(func=wrap(cmd_load))
    s = sub.add_parser("inspect", help="an image's config, layers, sizes and history, as JSON")
    s.add_argument("image")
    s.set_defaults(func=wrap(cmd_inspect))
    s = sub.add_parser("tag", help="give an image another name")
    s.add_argument("image")
    s.add_argument("name")
    s.set_defaults(func=wrap(cmd_tag))
    s = sub.add_parser("rmi", help="remove images (refused while a container uses one, unless forced)")
    s.add_argument("images", nargs="+")
    s.add_argument("-f", "--force", action="store_true")
    s.set_defaults(func=wrap(cmd_rmi))
    s = sub.add_parser("prune", help="remove dangling images and the blobs and layers nothing uses")
    s.add_argument("--grace", type=float, default=pruning.GRACE_SECONDS, metavar="SECONDS",
                   help="keep files younger than this (a build may be about to use them)")
    s.set_defaults(func=wrap(cmd_prune))
