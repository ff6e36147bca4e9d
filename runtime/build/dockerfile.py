"""Dockerfile parser: text in, typed and immutable instructions grouped in stages out.

Pure code in three stages, each usable on its own:

1. :func:`read_lines` handles parser directives, comments and line
   continuations and yields logical lines with their physical line range;
2. :func:`parse_instruction` turns one logical line into a frozen dataclass;
3. :func:`parse` checks the structure (ARGs, then stages opened by FROM).

Variables are not substituted here: the builder calls ``expanded(lookup)`` on
the instructions Docker expands, when it knows the ARG/ENV values of that
point of the build. Behaviour follows Docker's BuildKit frontend so that a
Dockerfile means the same thing here as under ``docker build``.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar

from ..errors import DockerfileError
from .shellwords import ExpansionError, expand, expand_words, split_flags, split_words

DEFAULT_ESCAPE = "\\"
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
# Docker splits "whitespace delimited" arguments on these only (not on newlines).
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")
_HEREDOC = re.compile(r"^\d*<<-?[^<]+$")
_PORT = re.compile(r"^\d+(-\d+)?(/(tcp|udp|sctp))?$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_NS_PER_UNIT = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6,
                "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_MIN_HEALTH_INTERVAL_NS = 10**6  # Docker refuses health durations under 1ms


# ---------------------------------------------------------------- lines

@dataclass(frozen=True)
class LogicalLine:
    """One instruction's text after joining continuations; lines are 1-based."""

    text: str
    line: int
    end_line: int


def read_lines(text: str) -> tuple[dict[str, str], list[LogicalLine]]:
    """Split a Dockerfile into its parser directives and logical lines."""
    physical = text.removeprefix("\ufeff").split("\n")
    physical = [raw.removesuffix("\r") for raw in physical]
    directives = _read_directives(physical)
    escape = directives.get("escape", DEFAULT_ESCAPE)
    return directives, _join_continuations(physical, escape)


def _read_directives(physical: list[str]) -> dict[str, str]:
    """Directives are only recognised before anything else, blank lines included."""
    directives: dict[str, str] = {}
    for number, raw in enumerate(physical, start=1):
        match = _DIRECTIVE.match(raw.lstrip())
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            break  # from here on, "# key=value" is an ordinary comment
        key, value = match.group(1).lower(), match.group(2)
        if key in directives:
            raise DockerfileError(f"only one {key} parser directive can be used", line=number)
        if key == "escape" and value not in ("\\", "`"):
            raise DockerfileError(f"invalid escape character {value!r}: use \\ or `",
                                  line=number)
        directives[key] = value
    return directives


def _join_continuations(physical: list[str], escape: str) -> list[LogicalLine]:
    continuation = re.compile(re.escape(escape) + r"[ \t]*\Z")
    lines: list[LogicalLine] = []
    index = 0
    while index < len(physical):
        first = physical[index].lstrip()
        index += 1
        start = end = index
        if not first or first.startswith("#"):
            continue
        text, more = _cut_continuation(first, continuation)
        # Only the first line is left-stripped; blank and comment lines inside
        # a continuation are skipped; a continuation at end of file just ends.
        while more and index < len(physical):
            raw = physical[index]
            index += 1
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            part, more = _cut_continuation(raw, continuation)
            text, end = text + part, index
        if text.strip():
            lines.append(LogicalLine(text.strip(), start, end))
    return lines


def _cut_continuation(line: str, continuation: re.Pattern[str]) -> tuple[str, bool]:
    cut = continuation.sub("", line, count=1)
    return cut, cut != line


# ---------------------------------------------------------------- instructions

@dataclass(frozen=True, kw_only=True)
class Instruction:
    """Common part of every instruction; ``original`` is the logical line."""

    keyword: ClassVar[str] = ""
    line: int
    end_line: int
    original: str
    escape: str = field(default=DEFAULT_ESCAPE, repr=False)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready rendering (the escape is a property of the whole file)."""
        out: dict[str, Any] = {"instruction": self.keyword}
        for f in dataclasses.fields(self):
            if f.name != "escape":
                out[f.name] = _plain(getattr(self, f.name))
        return out

    def _guard(self, fn: Callable[..., Any], word: str, lookup: Mapping[str, str]) -> Any:
        try:
            return fn(word, lookup, escape=self.escape)
        except ExpansionError as exc:
            raise DockerfileError(exc.reason, line=self.line, end_line=self.end_line) from None


def _plain(value: Any) -> Any:
    if isinstance(value, Instruction):
        return value.describe()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Expandable(Instruction):
    """An instruction whose arguments Docker's builder expands (``$VAR``, quotes)."""

    expand_fields: ClassVar[tuple[str, ...]] = ()

    def expanded(self, lookup: Mapping[str, str]) -> Any:
        """A copy of the same type with ``expand_fields`` substituted from ``lookup``."""
        def one(value: Any) -> Any:
            if isinstance(value, tuple):
                return tuple(one(item) for item in value)
            return value if value is None else self._guard(expand, value, lookup)
        return dataclasses.replace(
            self, **{name: one(getattr(self, name)) for name in self.expand_fields})


@dataclass(frozen=True, kw_only=True)
class From(Expandable):
    keyword, expand_fields = "FROM", ("image", "platform")
    image: str
    name: str | None = None
    platform: str | None = None


@dataclass(frozen=True, kw_only=True)
class _CommandLine(Instruction):
    """Exec form keeps the JSON list; shell form is one string in ``command``."""

    command: tuple[str, ...]
    shell_form: bool


@dataclass(frozen=True, kw_only=True)
class Run(_CommandLine):
    keyword = "RUN"


@dataclass(frozen=True, kw_only=True)
class Cmd(_CommandLine):
    keyword = "CMD"


@dataclass(frozen=True, kw_only=True)
class Entrypoint(_CommandLine):
    keyword = "ENTRYPOINT"


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    keyword = "SHELL"
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Add(Expandable):
    keyword, expand_fields = "ADD", ("sources", "dest", "chown", "chmod")
    sources: tuple[str, ...]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False


@dataclass(frozen=True, kw_only=True)
class Copy(Expandable):
    """``from_`` (a stage name, index or image) is not expanded, as in Docker."""

    keyword, expand_fields = "COPY", ("sources", "dest", "chown", "chmod")
    sources: tuple[str, ...]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False


@dataclass(frozen=True, kw_only=True)
class Env(Expandable):
    """``pairs`` keep their quotes and escapes until ``expanded`` removes them."""

    keyword, expand_fields = "ENV", ("pairs",)
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class Label(Expandable):
    keyword, expand_fields = "LABEL", ("pairs",)
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class Arg(Expandable):
    """``args`` are (name, default or None), defaults raw as in :class:`Env`."""

    keyword, expand_fields = "ARG", ("args",)
    args: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, kw_only=True)
class Expose(Expandable):
    keyword = "EXPOSE"
    ports: tuple[str, ...]

    def expanded(self, lookup: Mapping[str, str]) -> Expose:
        """One word may give several ports (``EXPOSE $PORTS``); each is then checked."""
        ports = tuple(p for word in self.ports for p in self._guard(expand_words, word, lookup))
        for port in ports:
            if not _PORT.match(port):
                raise DockerfileError(f'invalid port "{port}" (expected port[/tcp|/udp|/sctp]'
                                      " or a range like 8000-8010)",
                                      line=self.line, end_line=self.end_line)
        return dataclasses.replace(self, ports=ports)


@dataclass(frozen=True, kw_only=True)
class Workdir(Expandable):
    keyword, expand_fields = "WORKDIR", ("path",)
    path: str


@dataclass(frozen=True, kw_only=True)
class User(Expandable):
    keyword, expand_fields = "USER", ("user",)
    user: str


@dataclass(frozen=True, kw_only=True)
class Volume(Expandable):
    keyword, expand_fields = "VOLUME", ("paths",)
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class StopSignal(Expandable):
    keyword, expand_fields = "STOPSIGNAL", ("signal",)
    signal: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """``test`` as in an image config: ("NONE",), ("CMD", ...) or ("CMD-SHELL", cmd).
    Durations are nanoseconds, 0 meaning "Docker's default"; so is retries 0."""

    keyword = "HEALTHCHECK"
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class OnBuild(Instruction):
    """``expression`` is the trigger text stored in the image for later builds."""

    keyword = "ONBUILD"
    trigger: Instruction
    expression: str


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    keyword = "MAINTAINER"
    name: str


# ---------------------------------------------------------------- parsing one line

@dataclass(frozen=True)
class _Line:
    keyword: str  # upper-cased
    flags: tuple[str, ...]
    rest: str  # the arguments after the flags
    line: int
    end_line: int
    original: str
    escape: str

    def error(self, message: str, detail: str = "") -> DockerfileError:
        return DockerfileError(message, line=self.line, end_line=self.end_line, detail=detail)

    def base(self) -> dict[str, Any]:
        return {"line": self.line, "end_line": self.end_line, "original": self.original,
                "escape": self.escape}


# Each parser gives the instruction's own fields from the line and its checked flags.
_Parser = Callable[[_Line, dict[str, Any]], dict[str, Any]]


def parse_instruction(logical: LogicalLine, *, escape: str = DEFAULT_ESCAPE) -> Instruction:
    """Parse one logical line into its typed instruction."""
    word, args = _split_first(logical.text.strip())
    flags, rest = split_flags(args)
    ln = _Line(word.upper(), tuple(flags), rest.strip(), logical.line, logical.end_line,
               logical.text.strip(), escape)
    if ln.keyword not in _PARSERS:
        close = difflib.get_close_matches(ln.keyword, _PARSERS, n=1)
        raise ln.error(f"unknown instruction: {ln.keyword}",
                       detail=f"did you mean {close[0]}?" if close else "")
    cls, fields_of, flag_spec = _PARSERS[ln.keyword]
    return cls(**fields_of(ln, _flags(ln, flag_spec)), **ln.base())


_STRING, _BOOL, _REFUSED = "string", "bool", "refused"


def _flags(ln: _Line, spec: Mapping[str, str]) -> dict[str, Any]:
    """Check ``--name=value`` flags against what the instruction accepts."""
    values: dict[str, Any] = {}
    for flag in ln.flags:
        name, has_value, value = flag[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, [k for k, v in spec.items() if v != _REFUSED])
            raise ln.error(f"unknown flag for {ln.keyword}: --{name}",
                           detail=f"did you mean --{close[0]}?" if close else "")
        if kind == _REFUSED:
            raise ln.error(f"{ln.keyword} --{name} is not supported")
        if name in values:
            raise ln.error(f"duplicate flag for {ln.keyword}: --{name}")
        values[name] = _flag_value(ln, name, kind, value if has_value else None)
    return values


def _flag_value(ln: _Line, name: str, kind: str, value: str | None) -> Any:
    if kind == _STRING:
        if value is None:
            raise ln.error(f"--{name} needs a value, as in --{name}=<value>")
        return value
    if value is None or value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise ln.error(f"--{name} expects true or false, not {value!r}")


def _split(text: str) -> list[str]:
    return _WHITESPACE.split(text) if text else []


def _split_first(text: str) -> tuple[str, str]:
    """The first whitespace-delimited word and the rest."""
    first, *rest = _WHITESPACE.split(text, maxsplit=1)
    return first, rest[0] if rest else ""


def _json_list(ln: _Line, text: str) -> list[str] | None:
    """The JSON (exec) form, or None when the text is not a JSON array, in
    which case Docker falls back to the shell/whitespace form."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ln.error("when using JSON array syntax, arrays must contain strings only")
    return value


def _command_line(ln: _Line, text: str) -> tuple[tuple[str, ...], bool]:
    """(command, shell_form); nothing at all counts as an empty exec form."""
    if not text:
        return (), False
    exec_form = _json_list(ln, text)
    if exec_form is not None:
        return tuple(exec_form), False
    return (text,), True


def _refuse_heredocs(ln: _Line, words: list[str]) -> None:
    # Docker would read the following lines as the document; we would read them
    # as instructions and report something confusing, so say it plainly.
    if any(_HEREDOC.match(word) for word in words):
        raise ln.error(f"heredocs (<<EOF) are not supported in {ln.keyword}")


def _from(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    args = _split(ln.rest)
    if not args:
        raise ln.error("FROM requires an image: FROM [--platform=...] image [AS name]")
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise ln.error(f'invalid name for build stage: "{args[2]}", name can\'t start '
                           "with a number or contain symbols")
    elif len(args) != 1:
        raise ln.error("FROM requires either one or three arguments: FROM image [AS name]")
    return {"image": args[0], "name": name, "platform": flags.get("platform")}


def _command(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    command, shell_form = _command_line(ln, ln.rest)
    return {"command": command, "shell_form": shell_form}


def _run(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    fields = _command(ln, flags)
    if not fields["command"]:
        raise ln.error("RUN requires at least one argument")
    if fields["shell_form"]:
        _refuse_heredocs(ln, split_words(ln.rest, ln.escape))
    return fields


def _shell(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    shell = _json_list(ln, ln.rest)
    if ln.rest and shell is None:
        raise ln.error('SHELL requires the arguments in JSON form, as in '
                       'SHELL ["/bin/sh", "-c"]')
    if not shell:
        raise ln.error("SHELL requires at least one argument")
    return {"shell": tuple(shell)}


def _file_transfer(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    words = _json_list(ln, ln.rest)
    if words is None:
        words = _split(ln.rest)
    if not words:
        raise ln.error(f"{ln.keyword} requires a source and a destination")
    if len(words) == 1:
        raise ln.error(f"{ln.keyword} requires at least two arguments, but only one was "
                       "provided. Destination could not be determined")
    _refuse_heredocs(ln, words)
    renamed = {("from_" if key == "from" else key): value for key, value in flags.items()}
    return {"sources": tuple(words[:-1]), "dest": words[-1], **renamed}


def _pairs(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    """``k=v k2="v 2"`` pairs, or the legacy ``KEY name value with spaces``."""
    words = split_words(ln.rest, ln.escape)
    if not words:
        raise ln.error(f"{ln.keyword} requires at least one argument")
    if "=" not in words[0]:
        name, value = _split_first(ln.rest)
        if not value:
            raise ln.error(f'{ln.keyword} "{name}" has no value; use {ln.keyword} name=value')
        return {"pairs": ((name, value),)}
    pairs = []
    for word in words:
        key, has_value, value = word.partition("=")
        if not has_value:
            raise ln.error(f'{ln.keyword} syntax error: can\'t find = in "{word}"; '
                           "must be of the form name=value")
        if not key:
            raise ln.error(f"{ln.keyword} names can not be blank")
        pairs.append((key, value))
    return {"pairs": tuple(pairs)}


def _arg(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    words = split_words(ln.rest, ln.escape)
    if not words:
        raise ln.error("ARG requires at least one argument")
    args = []
    for word in words:
        name, has_default, default = word.partition("=")
        if not name:
            raise ln.error("ARG names can not be blank")
        args.append((name, default if has_default else None))
    return {"args": tuple(args)}


def _expose(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    if not ln.rest:
        raise ln.error("EXPOSE requires at least one argument")
    return {"ports": tuple(_split(ln.rest))}


def _volume(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    words = _json_list(ln, ln.rest)
    paths = [p.strip() for p in (_split(ln.rest) if words is None else words)]
    if not paths:
        raise ln.error("VOLUME requires at least one argument")
    if "" in paths:
        raise ln.error("VOLUME specified can not be an empty string")
    return {"paths": tuple(paths)}


def _whole(field_name: str) -> _Parser:
    """For instructions whose whole argument text is one value (USER a b is "a b")."""
    def fields(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
        if not ln.rest:
            raise ln.error(f"{ln.keyword} requires exactly one argument")
        return {field_name: ln.rest}
    return fields


def _healthcheck(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    kind, rest = _split_first(ln.rest)
    kind = kind.upper()
    if not kind:
        raise ln.error("HEALTHCHECK requires at least one argument: NONE or CMD ...")
    if kind == "NONE":
        if rest or flags:
            raise ln.error("HEALTHCHECK NONE takes no arguments")
        return {"test": ("NONE",)}
    if kind != "CMD":
        raise ln.error(f'unknown HEALTHCHECK type "{kind}" (use CMD or NONE)')
    command, shell_form = _command_line(ln, rest)
    if not command:
        raise ln.error("missing command after HEALTHCHECK CMD")
    durations = {key.replace("-", "_"): _duration(ln, key, flags.get(key))
                 for key in ("interval", "timeout", "start-period", "start-interval")}
    return {"test": ("CMD-SHELL" if shell_form else "CMD", *command),
            "retries": _retries(ln, flags.get("retries")), **durations}


def _duration(ln: _Line, flag: str, text: str | None) -> int:
    """Go duration syntax (``1m30s``, ``1.5s``, ``300ms``) to nanoseconds."""
    if not text or text == "0":
        return 0
    parts = _DURATION_PART.findall(text)
    if "".join(n + u for n, u in parts) != text or any(not n.strip(".") for n, _ in parts):
        raise ln.error(f'HEALTHCHECK --{flag}: invalid duration "{text}" '
                       "(use for example 30s, 1m30s or 500ms)")
    ns = int(sum(Fraction(n) * _NS_PER_UNIT[u] for n, u in parts))
    if 0 < ns < _MIN_HEALTH_INTERVAL_NS:
        raise ln.error(f"HEALTHCHECK --{flag} cannot be less than 1ms")
    return ns


def _retries(ln: _Line, text: str | None) -> int:
    if not text:
        return 0
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ln.error(f'HEALTHCHECK --retries must be a whole number, not "{text}"')
    if int(text) < 0:
        raise ln.error(f"HEALTHCHECK --retries cannot be negative ({int(text)})")
    return int(text)


def _onbuild(ln: _Line, flags: dict[str, Any]) -> dict[str, Any]:
    if not ln.rest:
        raise ln.error("ONBUILD requires at least one argument")
    trigger = _split_first(ln.rest)[0].upper()
    if trigger == "ONBUILD":
        raise ln.error("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("FROM", "MAINTAINER"):
        raise ln.error(f"{trigger} isn't allowed as an ONBUILD trigger")
    inner = parse_instruction(LogicalLine(ln.rest, ln.line, ln.end_line), escape=ln.escape)
    return {"trigger": inner, "expression": ln.rest}


_FILE_FLAGS = {"chown": _STRING, "chmod": _STRING, "link": _BOOL}
_HEALTH_FLAGS = dict.fromkeys(("interval", "timeout", "start-period", "start-interval",
                               "retries"), _STRING)
_RUN_FLAGS = dict.fromkeys(("mount", "network", "security", "device"), _REFUSED)
# keyword -> (instruction type, its fields from the line and flags, accepted flags)
_PARSERS: dict[str, tuple[type[Instruction], _Parser, Mapping[str, str]]] = {
    "FROM": (From, _from, {"platform": _STRING}),
    "RUN": (Run, _run, _RUN_FLAGS),
    "CMD": (Cmd, _command, {}),
    "ENTRYPOINT": (Entrypoint, _command, {}),
    "SHELL": (Shell, _shell, {}),
    "COPY": (Copy, _file_transfer, {**_FILE_FLAGS, "from": _STRING}),
    "ADD": (Add, _file_transfer, _FILE_FLAGS),
    "ENV": (Env, _pairs, {}),
    "LABEL": (Label, _pairs, {}),
    "ARG": (Arg, _arg, {}),
    "EXPOSE": (Expose, _expose, {}),
    "WORKDIR": (Workdir, _whole("path"), {}),
    "USER": (User, _whole("user"), {}),
    "VOLUME": (Volume, _volume, {}),
    "STOPSIGNAL": (StopSignal, _whole("signal"), {}),
    "HEALTHCHECK": (Healthcheck, _healthcheck, _HEALTH_FLAGS),
    "ONBUILD": (OnBuild, _onbuild, {}),
    "MAINTAINER": (Maintainer, _whole("name"), {}),
}


# ---------------------------------------------------------------- structure

@dataclass
class Stage:
    from_: From
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.from_.name

    def describe(self) -> dict[str, Any]:
        return {"from": self.from_.describe(),
                "instructions": [i.describe() for i in self.instructions]}


@dataclass
class Dockerfile:
    directives: dict[str, str]
    meta_args: list[Arg] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)

    @property
    def escape(self) -> str:
        return self.directives.get("escape", DEFAULT_ESCAPE)

    def describe(self) -> dict[str, Any]:
        """A stable, JSON-ready rendering of the whole parse result."""
        return {"directives": dict(self.directives),
                "meta_args": [a.describe() for a in self.meta_args],
                "stages": [s.describe() for s in self.stages]}


def parse(text: str) -> Dockerfile:
    """Parse a whole Dockerfile; raises DockerfileError at the first problem."""
    directives, lines = read_lines(text)
    dockerfile = Dockerfile(directives=directives)
    for logical in lines:
        _place(dockerfile, parse_instruction(logical, escape=dockerfile.escape))
    if not lines:
        raise DockerfileError("has no instructions")
    if not dockerfile.stages:
        raise DockerfileError("has no FROM instruction")
    return dockerfile


def _place(dockerfile: Dockerfile, instruction: Instruction) -> None:
    if isinstance(instruction, From):
        _check_stage_name(dockerfile, instruction)
        dockerfile.stages.append(Stage(instruction))
    elif dockerfile.stages:
        dockerfile.stages[-1].instructions.append(instruction)
    elif isinstance(instruction, Arg):
        dockerfile.meta_args.append(instruction)
    else:
        raise DockerfileError(f"{instruction.keyword} cannot come before the first FROM "
                              "(only ARG can)", line=instruction.line,
                              end_line=instruction.end_line)


def _check_stage_name(dockerfile: Dockerfile, new: From) -> None:
    for stage in dockerfile.stages:
        if new.name is not None and stage.name == new.name:
            raise DockerfileError(f'duplicate stage name "{new.name}" (first used on line '
                                  f"{stage.from_.line})", line=new.line, end_line=new.end_line)
