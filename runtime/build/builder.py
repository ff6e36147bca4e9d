"""The builder: walks a parsed Dockerfile, keeps the image config, runs the steps.

Metadata instructions change only the image config (and add history);
RUN and COPY/ADD each add one layer, made by :mod:`runtime.build.steps`.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import posixpath
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import Cancelled, DockerfileError, NotFound, RegistryError
from ..image import transfer
from ..image.digest import hex_of
from ..image.registry import registry_host
from ..image.store import Image, ImageStore
from . import dockerfile as df, remote
from .cache import BuildCache, sources_digest
from .context import resolve_sources
from .copying import Source
from .steps import CopyRequest, RunCommand, StepLimits, StepRunner

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Build args RUN sees without an ARG, as in Docker (and kept out of the image, like any build arg).
PROXY_ARGS = frozenset(("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"))


@dataclass(frozen=True)
class BuildOptions:
    tag: str | None = None
    build_args: dict = field(default_factory=dict)
    memory_bytes: int = 1024 ** 3
    cpus: float | None = None
    pids_limit: int = 1024
    network: str = "bridge"
    timeout_seconds: float = 3600
    # Where FROM looks for an image the local store lacks (runtime.image.registry.Registry).
    registries: tuple = ()
    no_cache: bool = False  # build every step again (the new layers are still recorded)
    cancel: threading.Event | None = field(default=None, compare=False)  # set: stop the build now
    target: str | None = None  # the stage to stop at (docker build --target)
    add_limit_bytes: int = 1024 ** 3  # the most bytes ADD may fetch from a URL or unpack from an archive


@dataclass
class StageState:
    """The image being built by one stage."""

    config: dict
    layers: list[str]
    history: list[dict]
    args: dict[str, str] = field(default_factory=dict)
    cmd_set_here: bool = False
    name: str | None = None

    @property
    def env(self) -> dict[str, str]:
        out = {}
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def set_env(self, key: str, value: str) -> None:
        env = self.env
        env[key] = value
        self.config["Env"] = [f"{k}={v}" for k, v in env.items()]

    def lookup(self) -> dict[str, str]:
        """Variables for expansion: ENV wins over ARG, as in Docker."""
        return {**self.args, **self.env}

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"

    @property
    def shell(self) -> tuple[str, ...]:
        return tuple(self.config.get("Shell") or DEFAULT_SHELL)


def _cache_fields(instruction) -> dict:
    """What an expanded instruction says, without where it stands in the file."""
    fields = instruction.describe()
    for where in ("line", "end_line", "original"):
        fields.pop(where, None)
    return fields


def _target_index(parsed: df.Dockerfile, target: str | None) -> int:
    if target is None:
        return len(parsed.stages) - 1
    names = [s.name for s in parsed.stages]
    if target.lower() not in names:
        known = ", ".join(n for n in names if n) or "none is named"
        raise DockerfileError(f"the target stage {target!r} is not in the Dockerfile (its stages: {known})")
    return names.index(target.lower())


def _chmod(ins) -> int | None:
    if ins.chmod is None:
        return None
    if not re.fullmatch(r"[0-7]{3,4}", ins.chmod):
        raise DockerfileError(f'{ins.keyword} --chmod="{ins.chmod}" is not an octal mode such as 644 or 0755',
                              line=ins.line)
    return int(ins.chmod, 8)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class Builder:
    def __init__(self, config: RuntimeConfig, store: ImageStore, options: BuildOptions, on_output):
        self.store = store
        self.options = options
        self.out = on_output
        self.steps = StepRunner(config, store, StepLimits(options.memory_bytes, options.cpus, options.pids_limit,
                                                          options.network, options.timeout_seconds,
                                                          options.cancel))
        self.cache = BuildCache(store, config.state_dir / "build-cache")

    def build(self, text: str, context: Path) -> Image:
        parsed = df.parse(text)
        meta = self._meta_args(parsed)
        stages = parsed.stages[:_target_index(parsed, self.options.target) + 1]
        total = sum(1 + len(s.instructions) for s in stages)
        step = 0
        state = None
        self.built: list[StageState] = []
        for stage in stages:
            step += 1
            state = self._from(stage.from_, meta, step, total, context)
            for instruction in stage.instructions:
                step += 1
                self._check_cancelled()
                self.out(f"Step {step}/{total} : {instruction.original}")
                self._apply(state, instruction, context)
            self.built.append(state)
        self._check_cancelled()
        image_config = {"architecture": "amd64", "os": "linux", "created": _now(),
                        "config": state.config, "history": state.history}
        image = self._image(image_config, state)
        self.out(f"Successfully built {image.short_id}")
        if image.name:
            self.out(f"Successfully tagged {image.name}")
        return image

    def _image(self, image_config: dict, state: StageState) -> Image:
        """The image, indexed; a build that made it before gives the same one (the same ID, as
        Docker's cached rebuilds do) instead of a copy that differs only in its timestamps."""
        key = self.cache.key(step="image", layers=state.layers, config=state.config,
                             history=[{k: v for k, v in entry.items() if k != "created"} for entry in state.history])
        earlier = None if self.options.no_cache else self.cache.get_image(key)
        if earlier is not None:
            return self.store.write_image(json.loads(earlier), state.layers, self.options.tag, config_bytes=earlier)
        image = self.store.write_image(image_config, state.layers, self.options.tag)
        self.cache.put_image(key, image.config_digest)
        return image

    def _check_cancelled(self) -> None:
        if self.options.cancel is not None and self.options.cancel.is_set():
            raise Cancelled("the build was cancelled")

    def _meta_args(self, parsed: df.Dockerfile) -> dict[str, str]:
        values: dict[str, str] = {}
        for arg in parsed.meta_args:
            for name, default in arg.expanded(values).args:
                if name in self.options.build_args:
                    values[name] = self.options.build_args[name]
                elif default is not None:
                    values[name] = default
        return values

    def _from(self, instruction: df.From, meta: dict[str, str], step: int, total: int, context: Path) -> StageState:
        self.out(f"Step {step}/{total} : {instruction.original}")
        ref = instruction.expanded(meta).image
        earlier = self._stage(ref)
        if ref.lower() == "scratch":
            state = StageState({}, [], [])
        elif earlier is not None:
            state = StageState(copy.deepcopy(earlier.config), list(earlier.layers), copy.deepcopy(earlier.history))
        else:
            base = self._base_image(ref, instruction.line)
            state = StageState(copy.deepcopy(base.config.get("config", {})), list(base.layers),
                               copy.deepcopy(base.config.get("history", [])))
            self.out(f" ---> {base.short_id}")
        if "PATH" not in state.env:  # Docker gives every stage a PATH, FROM scratch too
            state.set_env("PATH", DEFAULT_PATH)
        state.name = instruction.name
        state.meta = meta
        state.args = {k: v for k, v in self.options.build_args.items() if k in PROXY_ARGS}
        self._run_triggers(state, instruction, context)
        return state

    def _stage(self, ref: str) -> StageState | None:
        """An earlier stage named ``ref`` (or, for COPY --from, numbered ``ref``)."""
        return next((s for s in self.built if s.name is not None and s.name == ref.lower()), None)

    def _run_triggers(self, state: StageState, instruction: df.From, context: Path) -> None:
        """The base's ONBUILD triggers run first, as instructions of this stage; they are not inherited."""
        triggers = state.config.pop("OnBuild", None) or []
        for text in triggers:
            self.out(f"Executing ONBUILD trigger: {text}")
            trigger = df.parse_instruction(df.LogicalLine(text, instruction.line, instruction.end_line),
                                           escape=instruction.escape)
            self._apply(state, trigger, context)

    def _base_image(self, ref: str, line: int) -> Image:
        """The local store first, then the registry the name names or the configured ones."""
        try:
            return self.store.resolve(ref)
        except NotFound:
            if not self.options.registries and registry_host(ref) is None:
                raise DockerfileError(f"base image {ref!r} is not in the local store (bootstrap it or build "
                                      "it first), and no registry is configured", line=line) from None
        self.out(f"Pulling {ref}")
        try:
            return transfer.pull(self.store, ref, self.options.registries)
        except (RegistryError, NotFound) as exc:
            raise DockerfileError(f"base image {ref!r}: {exc.message}", line=line, detail=exc.detail) from None

    # instructions

    def _apply(self, state: StageState, instruction, context: Path) -> None:
        handler = getattr(self, f"_do_{type(instruction).__name__.lower()}", None)
        if handler is None:
            raise DockerfileError(f"{instruction.keyword} is not supported by this builder yet",
                                  line=instruction.line)
        started = time.monotonic()
        created_by, digest = handler(state, instruction, context)
        entry = {"created": _now(), "created_by": created_by}
        if digest is None:
            entry["empty_layer"] = True
        else:
            state.layers.append(digest)
            self.out(f" ---> {hex_of(digest)[:12]} ({time.monotonic() - started:.2f} s)")
        state.history.append(entry)

    def _cached(self, key: str, make_layer) -> str | None:
        """The layer recorded under ``key``, or a new one from ``make_layer()``."""
        layer = None if self.options.no_cache else self.cache.get(key)
        if layer is not None:
            self.out(" ---> Using cache")
            return layer
        layer = make_layer()
        if layer is not None:  # a step may change nothing (WORKDIR of a directory that exists)
            self.cache.put(key, layer)
        return layer

    def _nop(self, instruction) -> tuple[str, None]:
        return f"/bin/sh -c #(nop) {instruction.original}", None

    def _do_run(self, state: StageState, ins: df.Run, _context):
        args = state.shell + ins.command if ins.shell_form else ins.command
        env = {**state.args, **state.env}  # build args are visible to RUN, not kept in the image
        cmd = RunCommand(args=tuple(args), env=tuple(f"{k}={v}" for k, v in env.items()),
                         workdir=state.workdir, user=state.config.get("User", ""), line=ins.line)
        key = self.cache.key(step="run", parent=state.layers, args=cmd.args, env=cmd.env, workdir=cmd.workdir,
                             user=cmd.user)
        digest = self._cached(key, lambda: self.steps.run(state.layers, cmd, self.out)[0])
        return f"/bin/sh -c {ins.original[4:].strip()}", digest

    def _do_copy(self, state: StageState, ins: df.Copy | df.Add, context: Path):
        ins = ins.expanded(state.lookup())
        request = CopyRequest(dest=ins.dest, workdir=state.workdir, line=ins.line, owner=ins.chown,
                              mode=_chmod(ins), extract=isinstance(ins, df.Add),
                              archive_limit=self.options.add_limit_bytes)
        if getattr(ins, "from_", None):
            request = dataclasses.replace(request, patterns=ins.sources, from_name=ins.from_,
                                          from_layers=tuple(self._from_layers(ins)))
            return self._copy_step(state, ins, request, list(request.from_layers))
        downloads = self.store.new_work_dir("add-url")
        try:
            sources = self._local_sources(ins, context, downloads)
            request = dataclasses.replace(request, sources=tuple(sources))
            return self._copy_step(state, ins, request, sources_digest([s.path for s in sources]))
        finally:
            shutil.rmtree(downloads, ignore_errors=True)

    _do_add = _do_copy

    def _copy_step(self, state: StageState, ins, request: CopyRequest, sources_key):
        # The key: the whole expanded instruction (its flags too) and what the sources hold.
        key = self.cache.key(step="copy", parent=state.layers, instruction=_cache_fields(ins),
                             workdir=state.workdir, sources=sources_key)
        digest = self._cached(key, lambda: self.steps.copy(state.layers, request)[0])
        return f"/bin/sh -c #(nop) {ins.original}", digest

    def _local_sources(self, ins, context: Path, downloads: Path) -> list[Source]:
        """Context files, and for ADD the files its URLs name, fetched into ``downloads``."""
        urls = [s for s in ins.sources if remote.is_url(s)]
        if urls and isinstance(ins, df.Copy):
            raise DockerfileError(f"COPY cannot fetch {urls[0]}: use ADD for a URL", line=ins.line)
        local = [s for s in ins.sources if not remote.is_url(s)]
        found = resolve_sources(context, local, ins.line) if local else []
        limits = remote.Limits(self.options.add_limit_bytes, max(1.0, self.steps.remaining()))
        return found + [Source(remote.fetch(url, downloads, limits, ins.line), fetched=True) for url in urls]

    def _from_layers(self, ins: df.Copy) -> list[str]:
        """The layers COPY --from reads: an earlier stage by name or number, else an image."""
        ref = ins.from_
        if ref.isdigit():
            if int(ref) >= len(self.built):
                raise DockerfileError(f"COPY --from={ref}: there is no stage {ref} before this one "
                                      "(stages count from 0)", line=ins.line)
            return self.built[int(ref)].layers
        stage = self._stage(ref)
        if stage is not None:
            return stage.layers
        try:
            return list(self._base_image(ref, ins.line).layers)
        except DockerfileError as exc:
            raise DockerfileError(f"COPY --from={ref} names no earlier stage, and as an image: "
                                  f"{exc.message.split(': ', 1)[-1]}", line=ins.line, detail=exc.detail) from None

    def _do_env(self, state: StageState, ins: df.Env, _context):
        for key, value in ins.expanded(state.lookup()).pairs:
            state.set_env(key, value)
        return self._nop(ins)

    def _do_arg(self, state: StageState, ins: df.Arg, _context):
        for name, default in ins.expanded(state.lookup()).args:
            if name in self.options.build_args:
                state.args[name] = self.options.build_args[name]
            elif default is not None:
                state.args[name] = default
            elif name in state.meta:
                state.args[name] = state.meta[name]
        return self._nop(ins)

    def _do_workdir(self, state: StageState, ins: df.Workdir, _context):
        path = ins.expanded(state.lookup()).path
        state.config["WorkingDir"] = posixpath.normpath(posixpath.join(state.workdir, path))
        # Docker makes a missing working directory at once, even if nothing later uses it.
        key = self.cache.key(step="workdir", parent=state.layers, path=state.workdir)
        digest = self._cached(key, lambda: self.steps.make_workdir(state.layers, state.workdir))
        return self._nop(ins)[0], digest

    def _do_expose(self, state: StageState, ins: df.Expose, _context):
        exposed = state.config.setdefault("ExposedPorts", {})
        for port in ins.expanded(state.lookup()).ports:
            exposed[port if "/" in port else f"{port}/tcp"] = {}
        return self._nop(ins)

    def _command(self, state: StageState, ins) -> list[str]:
        return list(state.shell + ins.command) if ins.shell_form else list(ins.command)

    def _do_cmd(self, state: StageState, ins: df.Cmd, _context):
        state.config["Cmd"] = self._command(state, ins)
        state.cmd_set_here = True
        return self._nop(ins)

    def _do_entrypoint(self, state: StageState, ins: df.Entrypoint, _context):
        state.config["Entrypoint"] = self._command(state, ins)
        if not state.cmd_set_here:  # Docker drops a CMD inherited from the base image
            state.config["Cmd"] = None
        return self._nop(ins)

    def _do_label(self, state: StageState, ins: df.Label, _context):
        state.config.setdefault("Labels", {}).update(dict(ins.expanded(state.lookup()).pairs))
        return self._nop(ins)

    def _do_user(self, state: StageState, ins: df.User, _context):
        state.config["User"] = ins.expanded(state.lookup()).user
        return self._nop(ins)

    def _do_volume(self, state: StageState, ins: df.Volume, _context):
        volumes = state.config.setdefault("Volumes", {})
        for path in ins.expanded(state.lookup()).paths:
            volumes[path] = {}
        return self._nop(ins)

    def _do_stopsignal(self, state: StageState, ins: df.StopSignal, _context):
        state.config["StopSignal"] = ins.expanded(state.lookup()).signal
        return self._nop(ins)

    def _do_shell(self, state: StageState, ins: df.Shell, _context):
        state.config["Shell"] = list(ins.shell)
        return self._nop(ins)

    def _do_maintainer(self, state: StageState, ins: df.Maintainer, _context):
        return self._nop(ins)

    def _do_healthcheck(self, state: StageState, ins: df.Healthcheck, _context):
        check = {"Test": list(ins.test)}
        for key, value in (("Interval", ins.interval), ("Timeout", ins.timeout),
                           ("StartPeriod", ins.start_period), ("StartInterval", ins.start_interval),
                           ("Retries", ins.retries)):
            if value:  # zero means "Docker's default", which Docker leaves out of the config
                check[key] = value
        state.config["Healthcheck"] = check
        return self._nop(ins)

    def _do_onbuild(self, state: StageState, ins: df.OnBuild, _context):
        state.config.setdefault("OnBuild", []).append(ins.expression)
        return self._nop(ins)


def build(config: RuntimeConfig, store: ImageStore, dockerfile_text: str, context: Path,
          options: BuildOptions, on_output) -> Image:
    return Builder(config, store, options, on_output).build(dockerfile_text, context)
