"""The fork server: the runtime CLI, imported once, forked for each call.

    python -m runtime.forkserver [--run-dir /run/berth]
    .venv/bin/berth-runtime ARGS...         (the client: runtime/forkclient.c, built by make)

Before it does anything, ``python -m runtime`` spends about 60 ms starting Python and
importing argparse, dataclasses and the runtime: more than runc takes to create a
container. This server has all of it imported, listens on ``<run dir>/forkserver.sock``
(root only) and forks a child for each call. The child checks that it may serve the
caller as the caller would serve itself (root, the same checkout and interpreter, the
same namespaces and root directory), takes the caller's stdin, stdout and stderr
(passed over the socket), working directory, environment and umask, runs
``runtime.cli.main`` with the caller's arguments in a process group of its own (where
the client forwards the signals a terminal sends), and sends back the exit code.

The protocol: the client sends one message, NUL-separated fields (PROTOCOL, checkout,
interpreter, working directory, umask in octal, the number of arguments, the arguments,
then the environment), with its descriptors 0, 1 and 2 as SCM_RIGHTS, and shuts down
its side. The child answers ``P<pid>`` once it takes the call, then ``X<exit code>``;
or ``R<reason>`` when it will not take it, and the client runs the call itself.

Nothing depends on the server: a container's parent is its conmon, and a client that
finds no server runs ``python -m runtime``. When a module it imported changes on disk,
the server turns the next call away (so it runs from the new code) and executes itself
again.
"""
from __future__ import annotations

import argparse
import atexit
import ctypes
import gc
import importlib
import io
import os
import pkgutil
import re
import select
import shlex
import signal
import socket
import struct
import sys
import threading
import time
import traceback

PROTOCOL = "berth-forkserver/1"
SOCKET_NAME = "forkserver.sock"
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SERVING = (os.path.realpath(CODE_ROOT), os.path.realpath(sys.executable))  # what a caller must run

# Not imported ahead: the server itself, and the entry points that run it or call it.
_NOT_PRELOADED = {"runtime.forkserver", "runtime.__main__"}
RECEIVE_TIMEOUT = 10  # seconds for a call to arrive whole (the client sends it at once)
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
NAMESPACES = ("mnt", "net", "pid", "user", "uts", "ipc", "cgroup")


class Refused(Exception):
    """The call cannot be served here as the caller would run it; it runs in the caller."""


def serve(run_dir: str) -> None:
    parser = _preload()
    sources = _loaded_sources()
    path = os.path.join(run_dir, SOCKET_NAME)
    listener = _listen(path)
    bound = os.stat(path).st_ino
    _log(f"berth fork server (pid {os.getpid()}) on {path}")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    spare = None
    try:
        while True:
            # One child waits in accept() for the next call, forked ahead: a fork of this
            # process (3 ms) is not on any call's path. It says when it took one.
            taken_r, taken_w = os.pipe()
            spare = os.fork()
            if spare == 0:
                try:
                    os.close(taken_r)
                    _spare(listener, taken_w, sources, parser)
                finally:
                    os._exit(1)  # whatever happens in a child, it never goes on serving
            os.close(taken_w)
            with os.fdopen(taken_r, "rb") as taken:
                what = taken.read(1)  # b"": the spare died unused
            if what == _STALE:
                _log("the runtime's code changed: starting again")
                _unlink_own(path, bound)
                os.execv(sys.executable, [sys.executable, "-m", "runtime.forkserver", "--run-dir", run_dir])
    finally:
        if spare:
            _kill_quietly(spare)
        _unlink_own(path, bound)


_TAKEN, _STALE = b"t", b"s"


def _spare(listener: socket.socket, taken_w: int, sources: dict, parser: argparse.ArgumentParser) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # as a new interpreter has them
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # a spare goes with its server...
    conn, _ = listener.accept()
    _libc.prctl(_PR_SET_PDEATHSIG, 0)  # ...a call does not
    listener.close()
    stale = _loaded_sources() != sources
    os.write(taken_w, _STALE if stale else _TAKEN)
    os.close(taken_w)
    if stale:
        peer_pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
        _log(f"refused pid {peer_pid}: the runtime's code changed (the call runs in its caller)")
        conn.close()  # unanswered: its caller runs the call itself, from the new code
        return
    _child(conn, parser)


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _preload() -> argparse.ArgumentParser:
    """Import all of the runtime (the CLI imports each command's modules as it runs, for a
    call without a server) and build the CLI's full parser, once for every child."""
    import runtime
    for module in pkgutil.walk_packages(runtime.__path__, "runtime."):
        if module.name not in _NOT_PRELOADED:
            importlib.import_module(module.name)
    from .cli import full_parser
    parser = full_parser()
    gc.freeze()  # what is here now is never collected: children do not scan (and copy) it
    return parser


def _listen(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        raise SystemExit(f"berth: a fork server already listens on {path}")
    except (FileNotFoundError, ConnectionRefusedError):
        pass  # none, or a socket its server left behind
    finally:
        probe.close()
    if os.path.lexists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o077)  # the socket 0700: whoever connects runs the runtime as root
    try:
        listener.bind(path)
    finally:
        os.umask(umask)
    listener.listen(128)
    return listener


def _unlink_own(path: str, bound: int) -> None:
    """Remove the socket file if it is still the one this server bound (inode ``bound``):
    a new server may have bound its own there."""
    try:
        if os.stat(path).st_ino == bound:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _loaded_sources() -> dict[str, int]:
    """The modules of this checkout that are imported, and their files' modification times."""
    times = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(CODE_ROOT + os.sep):
            try:
                times[path] = os.stat(path).st_mtime_ns
            except OSError:
                times[path] = -1
    return times


# the child: one call

def _child(conn: socket.socket, parser: argparse.ArgumentParser) -> None:
    peer_pid, peer_uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    try:
        # Read whole before any answer (a socket closed on unread data resets the caller's end).
        fds, fields = _receive(conn)
        if peer_uid != 0:
            raise Refused("the fork server serves root only")
        _check_namespaces(peer_pid)
        call = _parse(fields)
        os.chdir(call["cwd"])
    except (Refused, OSError, ValueError) as exc:
        reason = "the call did not arrive whole in time" if isinstance(exc, TimeoutError) else str(exc).replace("\n", " ")
        _log(f"refused pid {peer_pid}: {reason}")
        _reply(conn, b"R" + reason.encode(errors="replace"))
        os._exit(0)
    os.setpgid(0, 0)  # the caller's signals go to this group: this process and its subprocesses
    _reply(conn, b"P%d" % os.getpid())
    log = os.dup(1)  # the server's log, for the call's end
    _log(f"pid {os.getpid()} for pid {peer_pid}: {_shown(call['argv'])}")
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    os.umask(call["umask"])
    os.environb.clear()
    os.environb.update(call["env"])
    sys.argv = [sys.argv[0], *call["argv"]]
    _fresh_std_streams()
    _die_with(peer_pid)
    code = _run(call["argv"], parser)
    _log(f"pid {os.getpid()} exited {code}", log)  # before the answer: the caller's exit ends this process
    _reply(conn, b"X%d" % code)
    os._exit(0)


def _log(line: str, fd: int = 1) -> None:
    """One line of the server's log (its stdout), with the time."""
    try:
        os.write(fd, f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n".encode(errors="backslashreplace"))
    except OSError:
        pass


def _shown(argv: list[str], most: int = 500) -> str:
    """A call's arguments for the log, quoted as a shell would take them (a newline in one
    shown as \\n: one call, one line); a long list cut."""
    text = shlex.join(argv).replace("\n", "\\n")
    return text if len(text) <= most else f"{text[:most]}... ({len(argv)} arguments)"


def _receive(conn: socket.socket) -> tuple[list[int], list[bytes]]:
    fds: list[int] = []
    chunks = []
    conn.settimeout(RECEIVE_TIMEOUT)
    while True:
        data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += [fd for (fd,) in struct.iter_unpack("i", payload[:len(payload) - len(payload) % 4])]
        if not data:
            break
        chunks.append(data)
    conn.settimeout(None)
    if not fds and not chunks:
        raise Refused("the caller sent no call (it went away)")
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise Refused(f"expected stdin, stdout and stderr, got {len(fds)} descriptors")
    return fds, b"".join(chunks).split(b"\0")


def _check_namespaces(pid: int) -> None:
    """The caller's namespaces and root are this server's: the call would do the same here."""
    for name in NAMESPACES:
        if os.stat(f"/proc/{pid}/ns/{name}").st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
            raise Refused(f"the caller is in another {name} namespace")
    theirs, ours = os.stat(f"/proc/{pid}/root"), os.stat("/")
    if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
        raise Refused("the caller has another root directory")


def _parse(fields: list[bytes]) -> dict:
    if len(fields) < 6 or fields[0] != PROTOCOL.encode():
        raise Refused("not a call this server understands")
    _, code_root, executable, cwd, umask, count, *rest = fields
    if (os.path.realpath(os.fsdecode(code_root)), os.path.realpath(os.fsdecode(executable))) != _SERVING:
        raise Refused("the caller runs another checkout or interpreter")
    if not re.fullmatch(rb"[0-7]{1,4}", umask):
        raise Refused(f"umask {umask!r} is not an octal number")
    if not count.isdigit() or int(count) > len(rest):
        raise Refused(f"the call names {count!r} arguments and has {len(rest)} fields after the count")
    n = int(count)
    env = dict(item.partition(b"=")[::2] for item in rest[n:] if item)
    return {"cwd": os.fsdecode(cwd), "umask": int(umask, 8), "argv": [os.fsdecode(a) for a in rest[:n]], "env": env}


def _reply(conn: socket.socket, line: bytes) -> None:
    try:
        conn.sendall(line + b"\n")
    except OSError:
        pass  # the caller is gone


def _fresh_std_streams() -> None:
    """sys.stdin, stdout and stderr on the caller's descriptors, buffered as a new interpreter
    would buffer them there (lines to a terminal, blocks to a file or pipe, nothing held with
    the caller's PYTHONUNBUFFERED)."""
    encoding, errors = sys.stdout.encoding, sys.stdout.errors
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    sys.stdin = io.open(0, "r", closefd=False, encoding=encoding, errors=errors)
    sys.stdout = io.open(1, "w", closefd=False, encoding=encoding, errors=errors)
    sys.stderr = io.open(2, "w", buffering=1, closefd=False, encoding=encoding, errors="backslashreplace")
    if unbuffered:
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(write_through=True)


def _die_with(pid: int) -> None:
    """End this call, and what it runs in its process group, if its caller is killed (SIGKILL
    cannot be forwarded). Containers are their conmon's, in sessions of their own."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        os.kill(os.getpid(), signal.SIGKILL)
        return

    def watch():
        select.select([pidfd], [], [])
        os.killpg(0, signal.SIGKILL)  # with its subprocesses (runc exec, a build step's runc)

    threading.Thread(target=watch, daemon=True, name="caller-watch").start()


def _run(argv: list[str], parser: argparse.ArgumentParser) -> int:
    """The call's exit code, as the interpreter would exit with it: ``runtime.cli.main(argv)``,
    or conmon's exit command (``exited``, as runtime/__main__.py runs it)."""
    from .cli import main
    from .container import exited
    exit_command = exited.arguments(argv)
    try:
        code = _exit_status(exited.main(exit_command) if exit_command is not None else main(argv, parser))
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what the interpreter runs at its exit (thread pools' joins among it)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    return code


def _exit_status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def client_header(python: str) -> str:
    """The C client's constants (forkclient.c includes them; make writes them), from here."""
    from .config import RuntimeConfig

    def c_string(text: str) -> str:
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\?' else f"\\{b:03o}"
                             for b in os.fsencode(text)) + '"'

    values = {"PROTOCOL": PROTOCOL, "SOCKET_NAME": SOCKET_NAME, "DEFAULT_RUN_DIR": str(RuntimeConfig().run_dir),
              "CODE_ROOT": CODE_ROOT, "PYTHON": python}
    return "".join(f"#define {name} {c_string(value)}\n" for name, value in values.items())


def main(argv: list[str] | None = None) -> None:
    from .config import RuntimeConfig
    parser = argparse.ArgumentParser(prog="python -m runtime.forkserver", description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default=str(RuntimeConfig().run_dir),
                        help="the runtime's run directory, where the socket is (default %(default)s)")
    parser.add_argument("--client-header", metavar="PYTHON",
                        help="print the C client's constants, for a client that runs PYTHON without a server")
    args = parser.parse_args(argv)
    if args.client_header:
        print(client_header(args.client_header), end="")
        return
    serve(args.run_dir)


if __name__ == "__main__":
    main()
