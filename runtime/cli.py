"""``python -m runtime``: the runtime on its own, without the web or the queue.

    python -m runtime bootstrap busybox        (or debian)
    python -m runtime build -t hello examples/hello-web
    python -m runtime run -d -p 8080:80 -m 64m --cpus 0.5 hello
    python -m runtime ps | logs ID | stats ID | stop ID | kill ID | start ID | restart ID | rm ID | images
    python -m runtime pull | push | save | load   (see runtime/cli_images.py)
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from .errors import BerthError, InvalidSpec
from .linux.files import use_runtime_umask

# Each command imports what it uses: a container's start pays for the modules it needs,
# not for builds, registries and stats (a third of the runtime's import time).

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}


def parse_size(text: str) -> int:
    """Docker's sizes: ``64m``, ``1g``, ``512k`` or bytes."""
    t = text.strip().lower().removesuffix("b") if text.strip().lower() not in ("b",) else ""
    unit = t[-1:] if t[-1:] in _UNITS else ""
    number = t[:-1] if unit else t
    try:
        value = float(number)
    except ValueError:
        raise InvalidSpec(f"size {text!r} is not a number with an optional k, m or g") from None
    return int(value * _UNITS[unit])


def _containers(args):
    from .container.manager import Containers
    return Containers(_config(args))


def _config(args):
    from .config import RuntimeConfig
    return RuntimeConfig(state_dir=args.state_dir, run_dir=args.run_dir, bridge=args.bridge,
                         subnet=args.subnet, nft_table=args.nft_table, cgroup_parent=args.cgroup_parent,
                         netns_prefix=args.netns_prefix, port_range=args.port_range, userns=args.userns)


def cmd_bootstrap(args) -> int:
    from .image.bootstrap import bootstrap_busybox, bootstrap_debian
    from .image.store import ImageStore
    make = bootstrap_debian if args.image == "debian" else bootstrap_busybox
    image = make(ImageStore(_config(args)))
    print(f"{image.name} {image.short_id}")
    return 0


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def cmd_images(args) -> int:
    from .image.store import ImageStore
    store = ImageStore(_config(args))
    rows = [(image.name or "<none>", image.short_id, human_size(store.size(image))) for image in store.images()]
    width = max([len("NAME")] + [len(r[0]) for r in rows]) + 2
    print(f"{'NAME':{width}}{'IMAGE ID':14}{'SIZE':>10}")
    for name, short_id, size in rows:
        print(f"{name:{width}}{short_id:14}{size:>10}")
    return 0


def cmd_build(args) -> int:
    from . import cli_images
    from .build.builder import BuildOptions, build
    from .image.store import ImageStore
    config = _config(args)
    context = Path(args.context)
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    if not context.is_dir():
        raise InvalidSpec(f"build context {args.context} is not a directory")
    if not dockerfile.is_file():
        raise InvalidSpec(f"no Dockerfile at {dockerfile}" + ("" if args.file else " (name another with -f)"))
    build_args = dict(arg.partition("=")[::2] for arg in args.build_arg)
    options = BuildOptions(tag=args.tag, memory_bytes=parse_size(args.memory), cpus=args.cpus,
                           registries=cli_images.registries(args), no_cache=args.no_cache,
                           build_args=build_args, target=args.target)
    image = build(config, ImageStore(config), dockerfile.read_text(), context, options,
                  lambda line: print(line, flush=True))  # each line as it comes, to a pipe too
    return 0 if image else 1


def cmd_run(args) -> int:
    from .container import volumes
    from .container.manager import RunRequest
    from .network import ports as portmaps
    containers = _containers(args)
    req = RunRequest(image=args.image, memory_bytes=parse_size(args.memory), cpus=args.cpus,
                     pids_limit=args.pids_limit, command=tuple(args.command), env=tuple(args.env),
                     ports=tuple(portmaps.parse(p) for p in args.publish), network=args.network, **_run_limits(args),
                     init=args.init, name=args.name or "", restart=args.restart,
                     volumes=tuple(volumes.parse(v) for v in args.volume), volatile_root=args.rm and not args.detach)
    _end_on(signal.SIGTERM, signal.SIGHUP)  # as on Ctrl-C, below
    try:
        info = containers.run(req)  # undone by itself if interrupted
    except (KeyboardInterrupt, _Ended) as exc:
        _say("interrupted: the container was not started")
        return _interrupted_code(exc)
    if args.detach:
        print(info.id)
        return 0
    try:
        containers.wait(info.id)
        for line in containers.logs(info.id):
            (sys.stdout if line.stream == "stdout" else sys.stderr).write(line.text + ("\n" if line.complete else ""))
        status = containers.stop(info.id)
    except (KeyboardInterrupt, _Ended) as exc:  # Ctrl-C, kill, hang-up: --rm keeps its word, else it runs on
        _say(f"interrupted: {'stopping and removing' if args.rm else 'leaving running'} container {info.record.name}")
        if args.rm:
            containers.remove(info.id, force=True)
        return _interrupted_code(exc)
    except BaseException:  # its output could not be written (a closed pipe), among others
        if args.rm:
            containers.remove(info.id, force=True)
        raise
    if args.rm:
        containers.remove(info.id)
    return status.exit_code or 0


class _Ended(BaseException):
    """A signal that ends the CLI (SIGTERM, SIGHUP) arrived: raised where it was, as Ctrl-C's
    KeyboardInterrupt is, so what the command holds is let go of."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _end_on(*signums: int) -> None:
    def ended(signum, frame):
        raise _Ended(signum)

    for signum in signums:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's hang-ups stay ignored
            signal.signal(signum, ended)


def _interrupted_code(exc: BaseException) -> int:
    """The exit status of a process ended by that signal, as a shell shows it."""
    return 128 + (exc.signum if isinstance(exc, _Ended) else signal.SIGINT)


def _say(message: str) -> None:
    try:
        print(f"berth: {message}", file=sys.stderr)
    except OSError:
        pass  # stderr closed


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _run_limits(args) -> dict:
    """The network, cpuset, swap and block IO options of ``run`` as RunRequest fields."""
    def rate(text):
        return parse_size(text) if text else None

    return dict(team=args.team, network_receive_bps=rate(args.network_in_rate),
                network_send_bps=rate(args.network_out_rate), cpuset_cpus=args.cpuset_cpus,
                memory_swap_bytes=_memory_swap(args.memory_swap), blkio_weight=args.blkio_weight,
                device_read_bps=tuple(map(_device_rate, args.device_read_bps)),
                device_write_bps=tuple(map(_device_rate, args.device_write_bps)))


def _memory_swap(text: str | None) -> int | None:
    if text is None:
        return None
    return -1 if text.strip() == "-1" else parse_size(text)  # -1: no swap limit, as Docker's


def _device_rate(text: str) -> tuple[str, int]:
    """``/dev/sda:1mb`` as Docker's ``--device-read-bps`` takes it."""
    path, sep, rate = text.rpartition(":")
    if not sep or not path:
        raise InvalidSpec(f"device rate {text!r} is not DEVICE:RATE, e.g. /dev/sda:1mb")
    return path, parse_size(rate)


def _port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    if not (sep and low.isdigit() and high.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port range LOW-HIGH, e.g. 1024-65535")
    return int(low), int(high)


def cmd_ps(args) -> int:
    print(f"{'CONTAINER ID':14} {'NAME':20} {'IMAGE':24} {'STATUS':12} {'RESTARTS':9} PORTS")
    for info in _containers(args).list():
        r, s = info.record, info.status
        state = f"exited({s.exit_code})" if s.state == "exited" else s.state
        ports = ", ".join(_published(*p) for p in r.network.get("ports", []))
        print(f"{r.id[:12]:14} {r.name:20} {r.image:24} {state:12} {r.restart_count:<9} {ports}")
    return 0


def _published(host: int, container: int, proto: str, host_ip: str = "") -> str:
    return f"{host_ip or '0.0.0.0'}:{host}->{container}/{proto}"


def cmd_logs(args) -> int:
    for line in _containers(args).logs(args.container):
        prefix = f"{line.time} " if args.timestamps else ""
        out = sys.stdout if line.stream == "stdout" else sys.stderr
        out.write(prefix + line.text + ("\n" if line.complete else ""))
    return 0


def cmd_stats(args) -> int:
    import json
    import time

    from .cgroups.stats import cpu_percent
    containers = _containers(args)
    prev, t0 = containers.stats(args.container), time.monotonic_ns()
    time.sleep(1)
    cur, t1 = containers.stats(args.container), time.monotonic_ns()
    figures = {"cpu_percent": round(cpu_percent(prev, cur, t1 - t0), 2),
               "memory_working_set": cur.memory_working_set, "memory_limit": cur.memory_limit,
               "pids": cur.pids_current, "pids_limit": cur.pids_limit}
    if args.json:
        print(json.dumps(figures))
    else:
        limit = human_size(cur.memory_limit) if cur.memory_limit else "no limit"
        print(f"CPU {figures['cpu_percent']:.1f} %   memory {human_size(cur.memory_working_set)} / {limit}   "
              f"pids {cur.pids_current} / {cur.pids_limit or 'no limit'}")
    return 0


def cmd_stop(args) -> int:
    status = _containers(args).stop(args.container, timeout=args.time)
    print(f"exited({status.exit_code})")
    return 0


def cmd_kill(args) -> int:
    _containers(args).kill(args.container, args.signal)
    print(args.container)
    return 0


def cmd_start(args) -> int:
    print(_containers(args).start(args.container).id)
    return 0


def cmd_restart(args) -> int:
    print(_containers(args).restart(args.container, timeout=args.time).id)
    return 0


def cmd_exec(args) -> int:
    import subprocess
    tty = args.tty or (args.interactive and sys.stdin.isatty())
    proc = _containers(args).exec(args.container, args.command, tty=tty,
                                          stdin=None if args.interactive else subprocess.DEVNULL)
    return proc.wait()


def cmd_volume_ls(args) -> int:
    containers = _containers(args)
    print(f"{'VOLUME NAME':30} {'USED BY'}")
    for name in containers.volumes.names():
        users = ", ".join(u[:12] for u in containers.volume_users(name)) or "-"
        print(f"{name:30} {users}")
    return 0


def cmd_volume_create(args) -> int:
    print(_containers(args).volumes.create(args.name).parent.name)
    return 0


def cmd_volume_rm(args) -> int:
    containers = _containers(args)
    for name in args.names:
        containers.remove_volume(name)
        print(name)
    return 0


def cmd_rm(args) -> int:
    containers = _containers(args)
    for cid in args.containers:
        containers.remove(cid, force=args.force)
        print(cid)
    return 0


def cmd_reconcile(args) -> int:
    """Remove what crashed work left behind, and mark the containers nobody can account for."""
    from .reconcile import reconcile
    report = reconcile(_config(args))
    for line in report.lines():
        print(line)
    if not report.lines():
        print("nothing left behind")
    return 1 if report.failed else 0



def _add_global_options(p: argparse.ArgumentParser) -> None:
    from .config import RuntimeConfig
    defaults = RuntimeConfig()
    p.add_argument("--state-dir", default=str(defaults.state_dir))
    p.add_argument("--run-dir", default=str(defaults.run_dir))
    p.add_argument("--bridge", default=defaults.bridge)
    p.add_argument("--subnet", default=defaults.subnet)
    p.add_argument("--nft-table", default=defaults.nft_table)
    p.add_argument("--cgroup-parent", default=defaults.cgroup_parent)
    p.add_argument("--netns-prefix", default=defaults.netns_prefix)
    p.add_argument("--port-range", type=_port_range, default=defaults.port_range, metavar="LOW-HIGH",
                   help="host ports containers may publish (default 1024-65535)")
    p.add_argument("--userns", choices=["auto", "off"], default=defaults.userns,
                   help="a user namespace per container where the host allows it (default %(default)s)")


def _add_bootstrap(sub) -> None:
    s = sub.add_parser("bootstrap", help="make a base image on this host")
    s.add_argument("image", choices=["busybox", "debian"],
                   help="busybox from busybox-static, or debian:bookworm-slim with debootstrap (a download)")
    s.set_defaults(func=cmd_bootstrap)


def _add_images(sub) -> None:
    sub.add_parser("images", help="list images").set_defaults(func=cmd_images)


def _add_build(sub) -> None:
    from . import cli_images
    s = sub.add_parser("build", help="build an image from a Dockerfile")
    s.add_argument("context")
    s.add_argument("-f", "--file")
    s.add_argument("-t", "--tag")
    s.add_argument("-m", "--memory", default="1g", help="memory limit of each RUN step")
    s.add_argument("--cpus", type=float, default=None)
    s.add_argument("--no-cache", action="store_true", help="run every step again")
    s.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE")
    s.add_argument("--target", help="the stage to stop at")
    cli_images.add_registry_option(s)
    s.set_defaults(func=cmd_build)


def _add_run(sub) -> None:
    s = sub.add_parser("run", help="run a container")
    s.add_argument("image")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.add_argument("-d", "--detach", action="store_true")
    s.add_argument("--rm", action="store_true")
    s.add_argument("--name")
    s.add_argument("-p", "--publish", action="append", default=[])
    s.add_argument("-e", "--env", action="append", default=[])
    s.add_argument("-m", "--memory", default="256m")
    s.add_argument("--cpus", type=float, default=None)
    s.add_argument("--pids-limit", type=int, default=1024)
    s.add_argument("--network", default="bridge", choices=["bridge", "none", "host"],
                   help="bridge (the default or --team network), none (loopback only), or host (the host's)")
    _add_limit_options(s)
    s.add_argument("--init", action="store_true", help="run an init as PID 1 that forwards signals")
    s.add_argument("-v", "--volume", action="append", default=[], metavar="NAME:/PATH[:ro]",
                   help="mount a named volume (made on first use) or a host path")
    s.add_argument("--restart", default="no", metavar="POLICY",
                   help="no, on-failure[:N], always or unless-stopped (applied by the host agent)")
    s.set_defaults(func=cmd_run)


def _add_inspection(sub) -> None:
    sub.add_parser("ps", help="list containers").set_defaults(func=cmd_ps)
    s = sub.add_parser("logs", help="print a container's log")
    s.add_argument("container")
    s.add_argument("-t", "--timestamps", action="store_true")
    s.set_defaults(func=cmd_logs)
    s = sub.add_parser("stats", help="one second of a container's resource use")
    s.add_argument("container")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)


def _add_exec(sub) -> None:
    s = sub.add_parser("exec", help="run a command in a running container")
    s.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    s.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")
    s.add_argument("container")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_exec)


def _add_volume(sub) -> None:
    s = sub.add_parser("volume", help="list, create or remove named volumes")
    vsub = s.add_subparsers(dest="volume_command", required=True, metavar="ls|create|rm")
    vsub.add_parser("ls", help="list volumes and the containers using them").set_defaults(func=cmd_volume_ls)
    v = vsub.add_parser("create", help="make a named volume")
    v.add_argument("name")
    v.set_defaults(func=cmd_volume_create)
    v = vsub.add_parser("rm", help="remove volumes no container uses")
    v.add_argument("names", nargs="+")
    v.set_defaults(func=cmd_volume_rm)


def _add_lifecycle(sub) -> None:
    s = sub.add_parser("stop", help="stop a container")
    s.add_argument("container")
    s.add_argument("-t", "--time", type=_seconds, default=10.0, help="seconds of grace before SIGKILL (10)")
    s.set_defaults(func=cmd_stop)
    s = sub.add_parser("kill", help="send a signal to a container")
    s.add_argument("container")
    s.add_argument("-s", "--signal", default="KILL")
    s.set_defaults(func=cmd_kill)
    s = sub.add_parser("start", help="start a stopped container again")
    s.add_argument("container")
    s.set_defaults(func=cmd_start)
    s = sub.add_parser("restart", help="stop a container and start it again")
    s.add_argument("container")
    s.add_argument("-t", "--time", type=_seconds, default=10.0, help="seconds of grace before SIGKILL (10)")
    s.set_defaults(func=cmd_restart)
    s = sub.add_parser("rm", help="remove containers")
    s.add_argument("containers", nargs="+")
    s.add_argument("-f", "--force", action="store_true")
    s.set_defaults(func=cmd_rm)


def _add_image_commands(sub) -> None:
    from . import cli_images
    cli_images.add_commands(sub, lambda fn: lambda args: fn(args, _config(args)))


def _add_reconcile(sub) -> None:
    sub.add_parser("reconcile", help="remove what crashed work left behind (run while no build runs)") \
        .set_defaults(func=cmd_reconcile)


# Each command's name and what adds it (several commands share an adder), in --help's order.
_COMMANDS = {
    "bootstrap": _add_bootstrap, "images": _add_images, "build": _add_build, "run": _add_run,
    "ps": _add_inspection, "logs": _add_inspection, "stats": _add_inspection, "exec": _add_exec,
    "volume": _add_volume, "stop": _add_lifecycle, "kill": _add_lifecycle, "start": _add_lifecycle,
    "restart": _add_lifecycle, "rm": _add_lifecycle,
    **dict.fromkeys(("pull", "push", "save", "load", "inspect", "tag", "rmi", "prune"), _add_image_commands),
    "reconcile": _add_reconcile,
}


class _ProbeFailed(Exception):
    pass


class _SilentParser(argparse.ArgumentParser):
    def error(self, message):
        raise _ProbeFailed(message)


def _command_named(argv: list[str]) -> str | None:
    """The command ``argv`` names, if it is one: found by the global options alone, so the
    full parser is built only for what runs (all of argparse's sub-parsers cost a start 4 ms)."""
    probe = _SilentParser(add_help=False)
    _add_global_options(probe)
    probe.add_argument("command", nargs="?")
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        found, _ = probe.parse_known_args(argv)
    except _ProbeFailed:  # a bad global option: the full parser says what is wrong, once
        return None
    return found.command if found.command in _COMMANDS else None


def full_parser() -> argparse.ArgumentParser:
    return _parser()


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` naming a command, one that knows only that command's group."""
    wanted = _COMMANDS.get(_command_named(argv)) if argv is not None else None
    p = argparse.ArgumentParser(prog="berth-runtime", description="Berth's container runtime")
    _add_global_options(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in dict.fromkeys(_COMMANDS.values()):
        if wanted in (None, add):
            add(sub)
    return p


def _add_limit_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--team", default="", help="join this team's network (default: the default network)")
    s.add_argument("--network-in-rate", metavar="RATE", help="bytes/s the container may receive, e.g. 1m")
    s.add_argument("--network-out-rate", metavar="RATE", help="bytes/s the container may send, e.g. 512k")
    s.add_argument("--cpuset-cpus", default="", metavar="CPUS", help="CPUs to run on, e.g. 0-1 or 0,2")
    s.add_argument("--memory-swap", metavar="SIZE", help="memory plus swap, e.g. 512m; -1 for unlimited swap")
    s.add_argument("--blkio-weight", type=int, metavar="10-1000", help="block IO weight (needs BFQ)")
    s.add_argument("--device-read-bps", action="append", default=[], metavar="DEVICE:RATE",
                   help="read rate limit of a whole disk, e.g. /dev/vda:1mb")
    s.add_argument("--device-write-bps", action="append", default=[], metavar="DEVICE:RATE",
                   help="write rate limit of a whole disk, e.g. /dev/vda:1mb")


def _closed_streams_to_devnull() -> None:
    """A standard stream the caller closed (``>&-``) is None here: reads find nothing and
    writes go nowhere, instead of a traceback."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run one command line; ``parser``: the full one (``full_parser()``), built already."""
    argv = sys.argv[1:] if argv is None else argv
    _closed_streams_to_devnull()
    args = (parser or _parser(argv)).parse_args(argv)
    if not getattr(args, "callers_file", False):  # save -o FILE: that file is the caller's, made with its umask
        use_runtime_umask()
    try:
        return args.func(args)
    except BerthError as exc:
        print(f"berth: {exc.message}", file=sys.stderr)
        return 125
    except BrokenPipeError:  # `ps | head -1`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a program killed by SIGPIPE
