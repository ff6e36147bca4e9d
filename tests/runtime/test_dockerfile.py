"""Dockerfile parser and variable expansion.

Golden cases live in tests/testdata/dockerfile/<case>/: a ``Dockerfile`` and
either ``expected.json`` (``Dockerfile.describe()``) or ``error.txt`` (the
exact error message). An optional ``lookup.json`` adds an ``expanded`` list:
every expandable instruction after ``expanded(lookup)``. Adding a case means
adding a folder; run with BERTH_UPDATE_GOLDEN=1 to write a new case's
expected.json, then read it before committing.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from runtime.build.dockerfile import (
    Add, Arg, Cmd, Copy, Dockerfile, Env, Expandable, Expose, From, Healthcheck, Label,
    LogicalLine, OnBuild, Run, User, Workdir, parse, parse_instruction, read_lines,
)
from runtime.build.shellwords import expand, expand_words, split_flags, split_words
from runtime.errors import DockerfileError

DATA = Path(__file__).resolve().parents[1] / "testdata" / "dockerfile"
CASES = sorted(p for p in DATA.iterdir() if p.is_dir())
UPDATE = os.environ.get("BERTH_UPDATE_GOLDEN") == "1"


def _instructions(df: Dockerfile) -> list:
    out: list = list(df.meta_args)
    for stage in df.stages:
        out += [stage.from_, *stage.instructions]
    return out


def render(case: Path) -> dict:
    # Bytes, so that a CRLF or BOM case reaches the parser as written.
    df = parse((case / "Dockerfile").read_bytes().decode("utf-8"))
    result = df.describe()
    lookup_file = case / "lookup.json"
    if lookup_file.exists():
        lookup = json.loads(lookup_file.read_text())
        result["expanded"] = [i.expanded(lookup).describe() for i in _instructions(df)
                              if isinstance(i, Expandable)]
    return result


def test_there_are_enough_golden_cases():
    assert len(CASES) >= 25
    for case in CASES:
        assert (case / "Dockerfile").exists(), case.name
        assert (case / "expected.json").exists() != (case / "error.txt").exists(), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path):
    error_file = case / "error.txt"
    if error_file.exists():
        with pytest.raises(DockerfileError) as info:
            render(case)
        assert str(info.value) == error_file.read_text().strip()
        return
    result = render(case)
    expected_file = case / "expected.json"
    if UPDATE:
        expected_file.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    assert result == json.loads(expected_file.read_text())


# ---------------------------------------------------------------- expand

LOOKUP = {"S": "set", "E": "", "P": "80 443/udp", "SP": "  a  b  "}


@pytest.mark.parametrize("word, expected", [
    ("$S", "set"), ("${S}", "set"), ("$S$S", "setset"), ("${S}x", "setx"),
    ("$Sx", ""), ("$U", ""), ("${U}", ""), ("pre-$S-post", "pre-set-post"),
    # ${VAR:-word}: the word when unset or empty
    ("${U:-d}", "d"), ("${E:-d}", "d"), ("${S:-d}", "set"),
    # ${VAR-word}: the word only when unset
    ("${U-d}", "d"), ("${E-d}", ""), ("${S-d}", "set"),
    # ${VAR:+word}: the word when set and not empty
    ("${U:+w}", ""), ("${E:+w}", ""), ("${S:+w}", "w"),
    # ${VAR+word}: the word when set, even empty
    ("${U+w}", ""), ("${E+w}", "w"), ("${S+w}", "w"),
    ("${E?}", ""), ("${S:?}", "set"),
    # modifier words are themselves expanded, quoted and escaped
    ("${U:-$S}", "set"), ("${U:-${E:-deep}}", "deep"), ('${U:-"a b"}', "a b"),
    ("${U:-'$S'}", "$S"), ("${U:-a\\}b}", "a}b"), ("${U:-}", ""),
    # escapes outside quotes
    ("\\$S", "$S"), ("\\${S}", "${S}"), ("\\\\", "\\"), ("a\\ b", "a b"), ("\\x", "x"),
    ("end\\", "end"), ("\\'$S\\'", "'set'"),
    # single quotes: everything literal
    ("'$S'", "$S"), ("'a\\b'", "a\\b"), ("'\"'", '"'), ("''", ""),
    # double quotes: $ expands, the escape only protects \" \$ and itself
    ('"$S"', "set"), ('"a\\"b"', 'a"b'), ('"a\\b"', "a\\b"), ('"\\$S"', "$S"),
    ('"a\\\\b"', "a\\b"), ('"it\'s"', "it's"), ('"a b"', "a b"), ('x"y"z', "xyz"),
    # a $ that starts no name stays
    ("$", "$"), ("a$", "a$"), ("$/x", "$/x"), ("$ x", "$ x"),
    # digits and special parameters are names Docker never sets
    ("$1x", "x"), ("$$", ""), ("${1}", ""),
    ("C:\\dir", "C:dir"),
])
def test_expand(word, expected):
    assert expand(word, LOOKUP) == expected


def test_expand_with_backtick_escape():
    assert expand("C:\\dir\\$S", LOOKUP, escape="`") == "C:\\dir\\set"
    assert expand("`$S", LOOKUP, escape="`") == "$S"
    assert expand('"a`"b"', LOOKUP, escape="`") == 'a"b'


@pytest.mark.parametrize("word, reason", [
    ("${S", "missing '}'"),
    ("${S:-x", "missing '}'"),
    ('${S:-"x}', "missing '}'"),
    ("${", "missing '}'"),
    ("${}", "bad substitution"),
    ("${:}", "bad substitution"),
    ("${{S}}", "bad substitution"),
    ("${S:x}", "unsupported modifier (:x) in substitution"),
    ("${S x}", "unsupported modifier ( ) in substitution"),
    ("${S#x}", "unsupported modifier (#) in substitution"),
    ('"abc', "missing closing double quote"),
    ("'abc", "missing closing single quote"),
    ("${U?}", "U: is not allowed to be unset"),
    ("${U:?}", "U: is not allowed to be unset"),
    ("${E:?}", "E: is not allowed to be empty"),
    ("${U?set it}", "U: set it"),
])
def test_expand_errors(word, reason):
    with pytest.raises(DockerfileError) as info:
        expand(word, LOOKUP)
    assert str(info.value) == f'Dockerfile cannot expand "{word}": {reason}'
    assert info.value.line is None


@pytest.mark.parametrize("text, expected", [
    ("$P", ["80", "443/udp"]),
    ('"$P"', ["80 443/udp"]),
    ("$SP", ["a", "b"]),
    ("x$SP", ["x", "a", "b"]),
    ("a\\ b c", ["a b", "c"]),
    ("  a   b  ", ["a", "b"]),
    ('a "" b', ["a", "b"]),
    ("'x y' z", ["x y", "z"]),
    ("$U", []),
    ("", []),
])
def test_expand_words(text, expected):
    assert expand_words(text, LOOKUP) == expected


@pytest.mark.parametrize("text, expected", [
    ('a=1 b="x y" c', ["a=1", 'b="x y"', "c"]),
    ("a\\ b c", ["a\\ b", "c"]),
    ("'it s' \"\"", ["'it s'", '""']),
    ('k="a\\"b"', ['k="a\\"b"']),
    ("  ", []),
    ("trailing\\", ["trailing"]),
])
def test_split_words_keeps_quotes(text, expected):
    assert split_words(text) == expected


@pytest.mark.parametrize("text, flags, rest", [
    ("--from=build a b", ["--from=build"], "a b"),
    ('--chown="a b" --link x y', ["--chown=a b", "--link"], "x y"),
    ("-- --not-a-flag y", [], "--not-a-flag y"),
    ("echo --x", [], "echo --x"),
    ("", [], ""),
])
def test_split_flags(text, flags, rest):
    assert split_flags(text) == (flags, rest)


# ---------------------------------------------------------------- expanded()

def _stage(text: str) -> list:
    return parse(text).stages[-1].instructions


def test_expanded_returns_a_copy_of_the_same_type():
    copy, env, workdir = _stage('FROM a\nCOPY --chown=$U:$U $SRC "${D:-/dst}"\n'
                                'ENV K_$N="v $N" L=\'$N\'\nWORKDIR /w/${N}\n')
    lookup = {"U": "app", "SRC": "src", "N": "1"}
    assert copy.expanded(lookup) == dataclasses.replace(
        copy, chown="app:app", sources=("src",), dest="/dst")
    assert env.expanded(lookup).pairs == (("K_1", "v 1"), ("L", "$N"))
    assert isinstance(workdir.expanded(lookup), Workdir)
    assert workdir.expanded(lookup).path == "/w/1"
    assert workdir.path == "/w/${N}"


def test_copy_from_is_not_expanded_but_add_sources_are():
    copy, add = _stage("FROM a\nCOPY --from=$S x y\nADD $S /d\n")
    assert copy.expanded({"S": "s"}).from_ == "$S"
    assert add.expanded({"S": "s"}).sources == ("s",)


def test_expose_expands_into_several_ports_and_checks_them():
    (expose,) = _stage("FROM a\nEXPOSE $PORTS 9000-9010/udp\n")
    assert expose.expanded({"PORTS": "80 443/tcp"}).ports == ("80", "443/tcp", "9000-9010/udp")
    with pytest.raises(DockerfileError) as info:
        expose.expanded({"PORTS": "http"})
    assert str(info.value).startswith('Dockerfile line 2: invalid port "http"')


def test_expansion_errors_name_the_instruction_lines():
    (user,) = _stage("FROM a\nUSER \\\n  ${NAME\n")
    with pytest.raises(DockerfileError) as info:
        user.expanded({})
    assert (info.value.line, info.value.end_line) == (2, 3)
    assert str(info.value) == 'Dockerfile lines 2-3: cannot expand "${NAME": missing \'}\''


def test_expanded_honours_the_escape_directive():
    (env,) = _stage("# escape=`\nFROM a\nENV P=C:\\tools\\$V Q=`$V\n")
    assert env.expanded({"V": "1"}).pairs == (("P", "C:\\tools\\1"), ("Q", "$V"))


def test_arg_defaults_and_from_expand():
    df = parse("ARG BASE=alpine TAG\nFROM --platform=$PLAT ${BASE}:${TAG:-3}\n")
    assert df.meta_args[0].expanded({}).args == (("BASE", "alpine"), ("TAG", None))
    from_ = df.stages[0].from_.expanded({"BASE": "debian", "PLAT": "linux/arm64"})
    assert (from_.image, from_.platform) == ("debian:3", "linux/arm64")


def test_only_the_instructions_docker_expands_offer_expanded():
    run, cmd, health, onbuild = _stage("FROM a\nRUN echo $X\nCMD $X\n"
                                       "HEALTHCHECK CMD $X\nONBUILD COPY $X /\n")
    for instruction in (run, cmd, health, onbuild):
        assert not isinstance(instruction, Expandable)
        assert not hasattr(instruction, "expanded")
    assert isinstance(onbuild.trigger, Copy) and onbuild.trigger.sources == ("$X",)


# ---------------------------------------------------------------- stages and types

def test_instructions_are_frozen_and_typed():
    df = parse("FROM a AS One\nRUN [\"a\"]\nLABEL x=y\nUSER me\nADD a b\nCMD x\n")
    assert isinstance(df.stages[0].from_, From) and df.stages[0].name == "one"
    kinds = [type(i) for i in df.stages[0].instructions]
    assert kinds == [Run, Label, User, Add, Cmd]
    with pytest.raises(dataclasses.FrozenInstanceError):
        df.stages[0].instructions[0].command = ("b",)  # type: ignore[misc]
    # a LABEL is not an ENV and an ADD not a COPY, even for isinstance()
    assert not isinstance(df.stages[0].instructions[1], Env)
    assert not isinstance(df.stages[0].instructions[3], Copy)


def test_read_lines_gives_physical_ranges():
    directives, lines = read_lines("# syntax=x\n\nRUN a \\\n  # note\n\n  b\nCMD c")
    assert directives == {"syntax": "x"}
    assert lines == [LogicalLine("RUN a   b", 3, 6), LogicalLine("CMD c", 7, 7)]


def test_parse_instruction_alone():
    expose = parse_instruction(LogicalLine("expose 80 443", 4, 4))
    assert isinstance(expose, Expose) and expose.ports == ("80", "443")
    assert (expose.line, expose.original) == (4, "expose 80 443")


def test_healthcheck_fields():
    health = parse_instruction(LogicalLine(
        'HEALTHCHECK --interval=1m30s --timeout=1.5s --start-period=300ms '
        '--start-interval=2s --retries=3 CMD ["curl", "-f", "http://x/"]', 1, 1))
    assert isinstance(health, Healthcheck)
    assert health.test == ("CMD", "curl", "-f", "http://x/")
    assert (health.interval, health.timeout, health.start_period, health.start_interval,
            health.retries) == (90 * 10**9, 15 * 10**8, 3 * 10**8, 2 * 10**9, 3)


@pytest.mark.parametrize("option, message", [
    ("--interval=10", 'HEALTHCHECK --interval: invalid duration "10"'),
    ("--timeout=500us", "HEALTHCHECK --timeout cannot be less than 1ms"),
    ("--retries=-1", "HEALTHCHECK --retries cannot be negative (-1)"),
    ("--retries=x", 'HEALTHCHECK --retries must be a whole number, not "x"'),
    ("--interval", "--interval needs a value, as in --interval=<value>"),
    ("--interval=1s --interval=2s", "duplicate flag for HEALTHCHECK: --interval"),
])
def test_healthcheck_option_errors(option, message):
    with pytest.raises(DockerfileError) as info:
        parse_instruction(LogicalLine(f"HEALTHCHECK {option} CMD true", 1, 1))
    assert info.value.message.startswith(f"Dockerfile line 1: {message}")


@pytest.mark.parametrize("flag, link", [("--link", True), ("--link=true", True),
                                        ("--link=FALSE", False)])
def test_bool_flags(flag, link):
    copy = parse_instruction(LogicalLine(f"COPY {flag} a b", 1, 1))
    assert isinstance(copy, Copy) and copy.link is link


def test_bad_bool_flag():
    with pytest.raises(DockerfileError, match="--link expects true or false, not 'yes'"):
        parse_instruction(LogicalLine("COPY --link=yes a b", 1, 1))


def test_unknown_instruction_suggests_a_name():
    with pytest.raises(DockerfileError) as info:
        parse("FROM a\nWORKDIT /x\n")
    assert info.value.detail == "did you mean WORKDIR?"
    assert info.value.to_dict()["line"] == 2


def test_onbuild_keeps_the_trigger_text():
    (onbuild,) = _stage("FROM a\nONBUILD   RUN   make $X\n")
    assert isinstance(onbuild, OnBuild)
    assert onbuild.expression == "RUN   make $X"
    assert onbuild.trigger == Run(command=("make $X",), shell_form=True, line=2, end_line=2,
                                  original="RUN   make $X")


def test_meta_args_and_env():
    df = parse("ARG A\nARG B=1 C=\"x y\"\nFROM a\nARG D\nENV E 1 2\n")
    assert [type(a) for a in df.meta_args] == [Arg, Arg]
    assert df.meta_args[1].args == (("B", "1"), ("C", '"x y"'))
    arg, env = df.stages[0].instructions
    assert isinstance(arg, Arg) and env.pairs == (("E", "1 2"),)
