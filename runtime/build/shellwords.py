"""Shell-like word handling for Dockerfiles: splitting and variable expansion.

This follows BuildKit's Dockerfile frontend (``parser/line_parsers.go``,
``parser/split_command.go`` and ``shell/lex.go``) because users write their
Dockerfiles against Docker's behaviour, quirks included: an unset variable
expands to nothing, ``\\x`` outside quotes is just ``x``, and ``$$`` is a
(always unset) special parameter rather than a literal dollar.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..errors import DockerfileError

# POSIX special parameters: ``$?`` etc. are looked up like names, so they
# expand to "" unless the lookup happens to define them.
_SPECIAL_PARAMS = "@*#?-$!0"


class ExpansionError(DockerfileError):
    """A word whose ``$`` substitutions or quotes cannot be processed.

    ``reason`` is the message without the "Dockerfile line N" prefix so an
    instruction can re-raise it with its own line numbers.
    """

    def __init__(self, word: str, problem: str):
        self.word = word
        self.reason = f'cannot expand "{word}": {problem}'
        super().__init__(self.reason)


class _Problem(Exception):
    """Internal: raised deep in the lexer, turned into ExpansionError at the top."""


def expand(word: str, lookup: Mapping[str, str], *, escape: str = "\\") -> str:
    """Substitute variables in ``word`` and remove its quotes and escapes."""
    return _process(word, lookup, escape)[0]


def expand_words(text: str, lookup: Mapping[str, str], *, escape: str = "\\") -> list[str]:
    """Like :func:`expand`, then split on unquoted whitespace (also whitespace
    coming from an unquoted variable), the way Docker expands EXPOSE."""
    return _process(text, lookup, escape)[1]


def _process(word: str, lookup: Mapping[str, str], escape: str) -> tuple[str, list[str]]:
    try:
        return _Lexer(word, lookup, escape).run()
    except _Problem as exc:
        raise ExpansionError(word, str(exc)) from None


class _Words:
    """Collects the word-split result next to the plain one.

    Mirrors the lexer's rules: literal unquoted whitespace and whitespace inside
    an unquoted ``$VAR`` value separate words; quoted or escaped text never does.
    """

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if not ch.isspace():
            self.add_raw(ch)
        elif self.in_word and self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def finish(self) -> list[str]:
        # An empty quoted word ("") is dropped, as Docker does.
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


class _Lexer:
    def __init__(self, text: str, lookup: Mapping[str, str], escape: str):
        self.text = text
        self.pos = 0
        self.lookup = lookup
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += len(ch)
        return ch

    def run(self, stop: str = "") -> tuple[str, list[str]]:
        """Process up to ``stop`` (consumed) or to the end when ``stop`` is empty."""
        result: list[str] = []
        words = _Words()
        while ch := self.peek():
            if stop and ch == stop:
                self.next()
                return "".join(result), words.finish()
            if ch == "$":
                value = self.dollar()
                words.add_string(value)
            elif ch in "'\"":
                value = self.single_quoted() if ch == "'" else self.double_quoted()
                words.add_raw(value)
            else:
                value = self.plain(words)
            result.append(value)
        if stop:
            raise _Problem(f"missing '{stop}'")
        return "".join(result), words.finish()

    def plain(self, words: _Words) -> str:
        ch = self.next()
        if ch != self.escape:
            words.add_char(ch)
            return ch
        escaped = self.next()  # an escape at the very end just disappears
        if escaped:
            words.add_raw(escaped)
        return escaped

    def single_quoted(self) -> str:
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise _Problem("missing closing single quote")
        value, self.pos = self.text[self.pos:end], end + 1
        return value

    def double_quoted(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise _Problem("missing closing double quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            # Inside double quotes the escape only protects " $ and itself.
            if ch == self.escape and self.peek() in ('"', "$", self.escape):
                ch = self.next()
            out.append(ch)

    def name(self) -> str:
        ch = self.peek()
        if ch.isdecimal():
            start = self.pos
            while self.peek().isdecimal():
                self.next()
            return self.text[start:self.pos]
        if ch and ch in _SPECIAL_PARAMS:
            return self.next()
        start = self.pos
        while (ch := self.peek()) and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.next()
        return self.text[start:self.pos]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.lookup.get(name, "") if name else "$"
        self.next()
        return self.braced()

    def braced(self) -> str:
        first = self.peek()
        if not first:
            raise _Problem("missing '}'")
        if first in "{}:":
            raise _Problem("bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            return self.lookup.get(name, "")
        colon = op == ":"
        if colon:
            op = self.next()
        if not op:
            raise _Problem("missing '}'")
        if op not in "+-?":
            raise _Problem(f"unsupported modifier ({':' if colon else ''}{op}) in substitution")
        word = self.modifier_word()
        return _apply_modifier(name, op, colon, word, self.lookup)

    def modifier_word(self) -> str:
        try:
            return self.run(stop="}")[0]
        except _Problem:
            if not self.peek():
                raise _Problem("missing '}'") from None
            raise


def _apply_modifier(name: str, op: str, colon: bool, word: str,
                    lookup: Mapping[str, str]) -> str:
    """``${name-word}`` family; with ``colon`` an empty value counts as unset."""
    is_set = name in lookup
    value = lookup.get(name, "")
    missing = not is_set or (colon and value == "")
    if op == "-":
        return word if missing else value
    if op == "+":
        return "" if missing else word
    if missing:
        default = "is not allowed to be unset" if not is_set else "is not allowed to be empty"
        raise _Problem(f"{name}: {word or default}")
    return value


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split on whitespace outside quotes, keeping quotes and escapes in the
    words (they are removed later by :func:`expand`), as ENV, LABEL and ARG do."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    started = False  # a quoted empty string ("") is still a word
    i = 0
    while i < len(text):
        ch = text[i]
        i += 1
        if not quote and ch.isspace():
            if word or started:
                words.append("".join(word))
            word, started = [], False
            continue
        if ch == escape and quote != "'":
            if i == len(text):
                break  # a trailing escape is dropped
            word.append(ch)
            ch = text[i]
            i += 1
        elif quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote, started = ch, True
        word.append(ch)
    if word or started:
        words.append("".join(word))
    return words


def split_flags(text: str) -> tuple[list[str], str]:
    """Take the leading ``--name[=value]`` words off an instruction's arguments.

    Returns the flags (quotes and backslashes in them removed, as BuildKit does
    regardless of the escape directive) and the remaining text. A bare ``--``
    ends the flags.
    """
    flags: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith("--", pos):
            return flags, text[pos:]
        flag, pos = _flag_word(text, pos)
        if flag == "--":
            return flags, text[pos:]
        flags.append(flag)


def _flag_word(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    quote = ""
    while pos < len(text):
        ch = text[pos]
        pos += 1
        if not quote and ch.isspace():
            break
        if ch == "\\":
            if pos == len(text):
                break
            ch = text[pos]
            pos += 1
        elif quote and ch == quote:
            quote = ""
            continue
        elif not quote and ch in "'\"":
            quote = ch
            continue
        out.append(ch)
    return "".join(out), pos
