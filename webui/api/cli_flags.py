"""`berth`'s commands and flags: the argparse parser, and Docker's spelling of values
(``-m 64m``, ``--cpus 0.5``, ``-e KEY``) turned into what the API takes.

Only the spelling is read here; whether a value is allowed (a port in the host's range, a
variable's name, a restart policy, the quota) is the server's to say, in the same words
as the web's pages.
"""
from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass

MIB = 1024 * 1024
MIN_MEMORY = 6 * MIB  # as Docker's daemon refuses below it
# Docker's sizes (go-units RAMInBytes): a number, then k, m, g or t, then optionally i and b;
# a bare number is bytes.
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgt]?)i?b?$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_DECIMAL = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")


def size_bytes(text: str) -> int:
    m = _SIZE.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"invalid size: {text!r} (a number with an optional b, k, m or g "
                                         "suffix, e.g. 64m or 1g; a bare number is bytes)")
    return math.ceil(float(m.group(1)) * 1024 ** _POWERS[m.group(2).lower()])


@dataclass(frozen=True)
class Memory:
    """A memory limit in whole MB, as Berth keeps it; ``bytes`` as it was given."""

    mb: int
    bytes: int

    @property
    def rounded(self) -> bool:
        return self.bytes != self.mb * MIB


def memory(text: str) -> Memory:
    """``-m``'s value: Docker's units, rounded up to whole MB; below 6 MB refused as Docker does."""
    given = size_bytes(text)
    if given < MIN_MEMORY:
        raise argparse.ArgumentTypeError(f"{text!r}: Minimum memory limit allowed is 6MB")
    return Memory(math.ceil(given / MIB), given)


def cpus(text: str) -> float:
    """``--cpus``: a decimal number of CPUs (the server says which are allowed)."""
    if not _DECIMAL.match(text.strip()):
        raise argparse.ArgumentTypeError(f"invalid number of CPUs: {text!r} (a positive decimal number, e.g. 0.5 or 2)")
    return float(text)


def rate_mb(text: str) -> float:
    """A rate as the runtime's CLI takes it (``1m`` is 1 MiB/s) in MB/s; 0 is no limit."""
    return size_bytes(text) / MIB


def env_item(text: str) -> str | None:
    """``-e KEY=VALUE``, or ``-e KEY`` for the value this shell has: None when it has none,
    and the variable is left out, as Docker leaves it out."""
    if "=" in text:
        return text
    return f"{text}={os.environ[text]}" if text in os.environ else None


def label(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"invalid label: {text!r} (write key=value, e.g. disk=ssd)")
    return key, value


EXAMPLES = """examples:
  berth login http://127.0.0.1:8000 --token berth_...
  berth build hello --build-arg V=1
  berth run -d -p 18080:80 -m 64m --cpus 0.5 -e GREETING=hi hello
  berth ps
  berth logs -f hello-3
  berth stats --no-stream
  berth app set hello -m 128m --restart on-failure:3
  berth stop hello-3 && berth rm hello-3
  berth rmi hello            # the app's current image; or a build ID, or an image ID
  berth image prune -f       # every image but each app's current one
  berth volume create data && berth app set hello -v data:/data

The URL and token come from `berth login` (kept in ~/.config/berth/config.json, mode 0600),
or from BERTH_URL and BERTH_TOKEN, which win. `berth COMMAND --help` tells more."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' lines as written; wraps the rest."""


def _add_run_settings(p: argparse.ArgumentParser) -> None:
    """The flags of what a run may set (as `docker run` spells them), shared by run and app set."""
    p.add_argument("-p", "--publish", action="append", metavar="HOST:CONTAINER",
                   help="publish a container port on the host: [IP:]HOST:CONTAINER[/tcp|udp], e.g. 18080:80, "
                        "8053:53/udp or 127.0.0.1:8080:80 (repeatable)")
    p.add_argument("-m", "--memory", type=memory, metavar="SIZE",
                   help="memory limit, e.g. 64m or 1g (b, k, m, g; a bare number is bytes; whole MB, rounded up)")
    p.add_argument("--cpus", type=cpus, metavar="N", help="CPU limit in CPUs, e.g. 0.5")
    p.add_argument("--pids-limit", type=int, metavar="N", help="processes and threads at once")
    p.add_argument("-e", "--env", action="append", type=env_item, metavar="KEY=VALUE",
                   help="set an environment variable; KEY alone takes this shell's value (repeatable)")
    p.add_argument("--restart", metavar="POLICY", help="no, on-failure[:N], always or unless-stopped")


def _run(sub) -> None:
    p = sub.add_parser("run", help="start a container of an app's last good build",
                       description="Start a container of the app's last good build, with the app's settings "
                                   "but those given here (the app keeps its own). -e adds to the app's "
                                   "environment; -p replaces its ports. Without -d, follows the container's "
                                   "log until it ends and exits with its exit code; Ctrl-C leaves it running.")
    p.add_argument("app", help="the app's name or ID")
    _add_run_settings(p)
    p.add_argument("-d", "--detach", action="store_true", help="print the container's ID and return at once")


def _app_set(sub) -> None:
    app = sub.add_parser("app", help="change an app's settings (app set)",
                         description="Change how an app runs, as its Settings page does.")
    actions = app.add_subparsers(dest="app_command", required=True, metavar="ACTION")
    p = actions.add_parser("set", help="change the settings given; the rest are kept",
                           description="Change the settings given and keep the others; the next run uses them. "
                                       "A list flag (-p, -e, -v, --host-label) sets the whole list: give each "
                                       "item, or --no-... for none.")
    p.add_argument("app", help="the app's name or ID")
    _add_run_settings(p)
    p.add_argument("--cpuset-cpus", metavar="CPUS", help="CPUs to run on, e.g. 0-1 or 0,2 ('' for any)")
    p.add_argument("--network-in-rate", type=rate_mb, metavar="SIZE",
                   help="download limit per second, e.g. 1m (MiB/s); 0 for none")
    p.add_argument("--network-out-rate", type=rate_mb, metavar="SIZE",
                   help="upload limit per second, e.g. 512k; 0 for none")
    p.add_argument("-v", "--volume", action="append", metavar="NAME:/PATH",
                   help="mount one of the team's volumes, NAME:/PATH[:ro] (repeatable)")
    p.add_argument("--host-label", action="append", type=label, metavar="KEY=VALUE",
                   help="run only on hosts with this label (repeatable)")
    for flag, what in (("--no-ports", "publish no ports"), ("--no-env", "no environment variables"),
                       ("--no-volumes", "mount no volumes"), ("--no-host-labels", "run on any host")):
        p.add_argument(flag, action="store_true", help=what)


def _containers(sub) -> None:
    s = sub.add_parser("ps", help="your teams' containers")
    s.add_argument("-a", "--all", action="store_true", help="removed ones too")
    s = sub.add_parser("logs", help="a container's log")
    s.add_argument("container", help="its ID or name (e.g. hello-3)")
    s.add_argument("-f", "--follow", action="store_true", help="go on printing lines as they come")
    s.add_argument("--tail", type=int, metavar="N", help="start with the newest N lines")
    s = sub.add_parser("stats", help="live CPU, memory, network, block IO and processes of running containers",
                       description="A docker stats table of your teams' running containers (or those named), "
                                   "refreshed every second; sizes in binary units (MiB, GiB).")
    s.add_argument("containers", nargs="*", metavar="CONTAINER", help="IDs or names; all running ones if none")
    s.add_argument("--no-stream", action="store_true", help="print the figures once and return")
    for name, what in (("stop", "stop a container: its stop signal, then SIGKILL after 10 s"),
                       ("restart", "stop a container and start it again"),
                       ("kill", "send a container a signal"),
                       ("rm", "remove a container and what it held on its host")):
        s = sub.add_parser(name, help=what)
        s.add_argument("container", help="its ID or name")
        if name == "kill":
            s.add_argument("-s", "--signal", default="KILL", help="TERM, KILL, HUP, INT, QUIT, USR1 or USR2 (KILL)")
        if name == "rm":
            s.add_argument("-f", "--force", action="store_true", help="kill it first if it runs")


IMAGE_REF = ("a build ID (as `berth images` shows older ones), the image's name (team1/hello:latest, or the "
             "app's name, for its current image) or an image ID")


def _team_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--team", metavar="TEAM", help=f"{what} (its name or ID); needed when you may write in "
                                                  "several teams")


def _images(sub) -> None:
    sub.add_parser("images", help="your teams' images, as their Images pages list them")
    s = sub.add_parser("rmi", help="remove images (image rm)",
                       description="Remove images, as the Images page's Remove: each image's host untags it and "
                                   "frees what nothing else uses, and refuses while a container (running or not) "
                                   "uses it. Waits for the host's answer.")
    s.add_argument("images", nargs="+", metavar="IMAGE", help=IMAGE_REF)
    image = sub.add_parser("image", help="manage images: ls, rm, prune")
    actions = image.add_subparsers(dest="image_command", required=True, metavar="ACTION")
    actions.add_parser("ls", help="your teams' images (images)")
    s = actions.add_parser("rm", help="remove images (rmi)", description="As berth rmi.")
    s.add_argument("images", nargs="+", metavar="IMAGE", help=IMAGE_REF)
    s = actions.add_parser("prune", help="remove every image of a team but each app's current one",
                           description="Remove every image of the team but each app's current one, as the Images "
                                       "page's Prune. Asks first, unless -f. An image a container still uses is "
                                       "kept, saying so. Waits for the hosts' answers.")
    s.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    _team_flag(s, "the team whose images to prune")


def _volumes(sub) -> None:
    volume = sub.add_parser("volume", help="manage the teams' volumes: ls, create, rm")
    actions = volume.add_subparsers(dest="volume_command", required=True, metavar="ACTION")
    s = actions.add_parser("ls", help="your teams' volumes, where their files are and what mounts them")
    s.add_argument("--team", metavar="TEAM", help="only this team's (its name or ID)")
    s = actions.add_parser("create", help="make a volume",
                           description="Make a named volume; mount it in an app with berth app set -v NAME:/PATH. "
                                       "Its files are made on the host of the first container that mounts it.")
    s.add_argument("name", help="letters, digits and . _ - (starting with a letter or a digit), unique in the team")
    _team_flag(s, "the team to make it in")
    s = actions.add_parser("rm", help="remove volumes",
                           description="Remove volumes. The host with a volume's files refuses while a container "
                                       "(running or not) uses it, naming them. Waits for the host's answer.")
    s.add_argument("names", nargs="+", metavar="NAME", help="a volume's name")
    s.add_argument("--team", metavar="TEAM", help="the volumes' team (its name or ID), when a name is in several")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berth", description="Berth from the command line, through its API.",
                                epilog=EXAMPLES, formatter_class=_Formatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("login", help="check and keep the URL and an API token for the other commands")
    s.add_argument("url", help="Berth's address, e.g. http://127.0.0.1:8000")
    s.add_argument("--token", required=True, help="a token from the API tokens page")
    sub.add_parser("apps", help="your teams' apps")
    _app_set(sub)
    s = sub.add_parser("build", help="build an app and follow its log")
    s.add_argument("app", help="the app's name or ID")
    s.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="a value for the Dockerfile's ARG (repeatable)")
    s.add_argument("--target", metavar="STAGE", help="build up to this stage")
    s.add_argument("--no-cache", action="store_true", help="build every step again")
    _run(sub)
    _containers(sub)
    _images(sub)
    _volumes(sub)
    sub.add_parser("hosts", help="the worker hosts (admins)")
    return p
