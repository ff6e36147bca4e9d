"""The image commands of ``python -m runtime``: pull, push, save, load.

    python -m runtime pull --registry http://127.0.0.1:5000 team/app:1
    python -m runtime push hello 127.0.0.1:5000/team/hello:1
    python -m runtime save -o hello.tar [--format oci|docker] hello
    python -m runtime load -i hello.tar [--format docker|oci] [-t name]

``--registry URL`` (repeatable; ``http://`` for a registry without TLS,
``http://user:password@host:port`` with a login) says where bare names are
pulled from and how to log in to a registry an image name names.
"""
from __future__ import annotations

import argparse
from pathlib import Path

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
    s.set_defaults(func=wrap(cmd_save))
    s = sub.add_parser("load", help="read an image from an archive")
    s.add_argument("-i", "--input", required=True)
    s.add_argument("--format", choices=sorted(transfer.FORMATS), default="docker")
    s.add_argument("-t", "--tag", help="the name to give it (a docker archive carries its own)")
    s.set_defaults(func=wrap(cmd_load))
