"""The YAML front matter of a ``SKILL.md``: a small reader and a safe writer (no PyYAML).

A ``SKILL.md`` starts with a front matter block: a line ``---``, YAML, and a closing line
``---`` (or ``...``); the Markdown body follows. Skills use a small part of YAML, and this
module reads exactly that part:

- block mappings (``key: value``) and block lists (``- item``), nested by indentation
  (spaces; a tab in the indentation is an error), a list also at its key's own indentation;
- plain scalars, also continued on more-indented lines; ``"double-quoted"`` strings with
  YAML's escapes and ``'single-quoted'`` strings (``''`` is a quote), both may span lines;
- literal (``|``) and folded (``>``) block scalars with their chomping indicators
  (``-``, ``+``) and an optional indentation digit;
- one-line flow lists (``[a, "b"]``) and flow mappings of scalars (``{a: b}``);
- ``#`` comments, blank lines, a byte-order mark, Windows (``\\r\\n``) or old Mac line ends.

Every scalar is read as a string, never converted to a number or boolean (skill metadata
maps strings to strings); an empty value, ``~`` and ``null`` are ``None``. Anchors,
aliases, tags, multi-line flow collections and duplicate keys are refused. A plain scalar
holding ``": "`` (``description: Use it when: ...``) is strictly not YAML, but common in
skills: it is read as the whole string and reported in :attr:`FrontMatter.notes`.
Anything else that does not parse raises :class:`SkillFormatError` naming the file and
the line.

:func:`write_front_matter` writes strings double-quoted (JSON escapes, which YAML reads the
same, plus ``\\uXXXX`` for characters YAML would not take raw), so every string it writes
reads back unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn, TypeAlias

import attrs

from athena_core.errors import SkillFormatError

__all__ = ["FrontMatter", "Value", "quote", "read_front_matter", "write_front_matter"]

#: A front matter value: a string, ``None``, a list or a mapping of them.
Value: TypeAlias = "str | list[Value] | dict[str, Value] | None"

#: ``key: rest`` (the key plain, "double-" or 'single-quoted'; ``rest`` after a space).
_KEY = re.compile(r"""
    (?: "(?P<dq>(?:[^"\\]|\\.)*)"
      | '(?P<sq>(?:[^']|'')*)'
      | (?P<plain>[^\s\#'"\[\]{},:&*!|>%@`-][^:]*? | -[^\s:][^:]*?) )
    \s*:(?:[\ \t]+(?P<rest>.*)|$)""", re.VERBOSE)
#: A block scalar header: ``|`` or ``>``, then chomping and indentation in either order.
_BLOCK_HEADER = re.compile(r"""
    (?P<style>[|>])
    (?: (?P<c1>[+-])(?P<i1>[1-9])? | (?P<i2>[1-9])(?P<c2>[+-])? )?
    (?:[\ \t]+\#.*)? [\ \t]*""", re.VERBOSE)
_NULLS = {"~", "null", "Null", "NULL"}
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
            "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
            "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_SAFE_PLAIN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
#: Words YAML 1.1 readers take as booleans or null.
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
_Fail = Callable[[str], NoReturn]
#: Characters a double-quoted YAML string must not hold raw (JSON leaves them raw).
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")


@attrs.frozen
class FrontMatter:
    """A ``SKILL.md`` split into its front matter and its Markdown body."""

    #: The top-level mapping, keys in file order.
    values: dict[str, Value]
    #: The line (1-based) of each top-level key.
    lines: dict[str, int]
    #: The Markdown after the closing ``---`` (line ends normalised to ``\\n``).
    body: str
    #: What was read leniently (not strictly YAML), each naming its line.
    notes: tuple[str, ...] = ()


def read_front_matter(text: str, *, path: str) -> FrontMatter:
    """Split ``text`` (a whole ``SKILL.md``) and read its front matter.

    ``path`` names the file in errors. Raises :class:`SkillFormatError` (with the line) if
    the text does not start with ``---``, the block is never closed, or its YAML is outside
    the subset described in the module docstring.
    """
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[0].rstrip() != "---":
        raise SkillFormatError("SKILL.md must start with a front matter block: a line '---', "
                               "then 'name: ...' and 'description: ...', then '---'.",
                               path=path, line=1)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise SkillFormatError("the front matter opened on line 1 is never closed by a line "
                               "'---'.", path=path, line=1)
    parser = _Parser(lines[1:end], path=path, first_line=2)
    values, key_lines = parser.document()
    return FrontMatter(values=values, lines=key_lines, body="\n".join(lines[end + 1:]),
                       notes=tuple(parser.notes))


def write_front_matter(values: Mapping[str, str | Sequence[str] | Mapping[str, str]]) -> str:
    """The front matter block (``---`` lines included, final newline) for ``values``: strings,
    lists of strings, and one-level mappings of strings, every string quoted safely."""
    out = ["---"]
    for key, value in values.items():
        if isinstance(value, str):
            out.append(f"{_key(key)}: {quote(value)}")
        elif not value:
            out.append(f"{_key(key)}: {'{}' if isinstance(value, Mapping) else '[]'}")
        elif isinstance(value, Mapping):
            out.append(f"{_key(key)}:")
            out.extend(f"  {_key(k)}: {quote(v)}" for k, v in value.items())
        else:
            out.append(f"{_key(key)}:")
            out.extend(f"  - {quote(item)}" for item in value)
    out.append("---")
    return "\n".join(out) + "\n"


def quote(text: str) -> str:
    """``text`` as a YAML scalar that reads back as ``text``: plain if it is a lower-case word
    YAML gives no other meaning (``notes-recent``), else double-quoted."""
    if _SAFE_PLAIN.fullmatch(text) and text not in _YAML_WORDS:
        return text
    return _double_quoted(text)


def _double_quoted(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def _key(key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) and key.lower() not in _YAML_WORDS:
        return key
    return _double_quoted(key)


class _Parser:
    """A recursive reader of indented blocks; ``pos`` is the next unread line."""

    def __init__(self, lines: list[str], *, path: str, first_line: int) -> None:
        self.lines = lines
        self.path = path
        self.first_line = first_line
        self.pos = 0
        self.notes: list[str] = []

    def fail(self, index: int, message: str) -> NoReturn:
        raise SkillFormatError(f"the front matter does not parse: {message}", path=self.path,
                               line=self.first_line + index)

    def line_no(self, index: int) -> int:
        return self.first_line + index

    def indent(self, index: int) -> int:
        text = self.lines[index]
        stripped = text.lstrip(" ")
        if stripped.startswith("\t"):
            self.fail(index, "a tab in the indentation; indent with spaces.")
        return len(text) - len(stripped)

    def next_content(self) -> int | None:
        """The index of the next line that is not blank or a comment (``pos`` moves to it)."""
        while self.pos < len(self.lines):
            stripped = self.lines[self.pos].strip()
            if stripped and not stripped.startswith("#"):
                return self.pos
            self.pos += 1
        return None

    def document(self) -> tuple[dict[str, Value], dict[str, int]]:
        first = self.next_content()
        if first is None:
            return {}, {}
        if self.indent(first) != 0 or _is_item(self.lines[first].strip()):
            self.fail(first, "the front matter must be a mapping of 'key: value' lines, "
                             "starting in the first column.")
        key_lines: dict[str, int] = {}
        return self.mapping(0, key_lines), key_lines

    def block(self, indent: int) -> Value:
        index = self.next_content()
        assert index is not None
        if _is_item(self.lines[index][indent:]):
            return self.sequence(indent)
        return self.mapping(indent, {})

    def mapping(self, indent: int, key_lines: dict[str, int]) -> dict[str, Value]:
        out: dict[str, Value] = {}
        while (index := self.next_content()) is not None:
            column = self.indent(index)
            if column < indent:
                break
            if column > indent:
                self.fail(index, "unexpected indentation.")
            content = self.lines[index][column:]
            if _is_item(content):
                self.fail(index, "a list item where a 'key: value' line was expected.")
            match = _KEY.fullmatch(content.rstrip())
            if match is None:
                self.fail(index, "expected 'key: value'.")
            if match["dq"] is not None:
                key = _unescape(match["dq"], lambda m: self.fail(index, m))
            elif match["sq"] is not None:
                key = match["sq"].replace("''", "'")
            else:
                key = match["plain"]
            if key in out:
                self.fail(index, f"the key {key[:60]!r} appears twice.")
            key_lines[key] = self.line_no(index)
            self.pos = index + 1
            out[key] = self.value((match["rest"] or "").strip(), indent, index)
        return out

    def sequence(self, indent: int) -> list[Value]:
        out: list[Value] = []
        while (index := self.next_content()) is not None:
            column = self.indent(index)
            content = self.lines[index][column:]
            if column < indent or (column == indent and not _is_item(content)):
                break
            if column > indent:
                self.fail(index, "unexpected indentation in a list.")
            rest = content[1:].lstrip(" ")
            offset = column + len(content) - len(rest)
            if rest and not rest.startswith(("#", '"', "'", "[", "{")) \
                    and _KEY.fullmatch(rest.rstrip()):
                # "- key: value": a mapping whose first key sits after the dash
                self.lines[index] = " " * offset + rest
                out.append(self.mapping(offset, {}))
                continue
            self.pos = index + 1
            out.append(self.value(rest.strip(), column, index))
        return out

    def value(self, rest: str, indent: int, index: int) -> Value:
        """The value after ``key:`` (or ``-``) on line ``index``, whose block is at
        ``indent``; reads the lines it continues on."""
        if not rest or rest.startswith("#"):
            following = self.next_content()
            if following is None:
                return None
            column = self.indent(following)
            if column > indent or (column == indent and _is_item(self.lines[following][column:])
                                   and not _is_item(self.lines[index][indent:])):
                return self.block(column)
            return None
        head = rest[0]
        if head in "|>":
            return self.block_scalar(rest, indent, index)
        if head == '"':
            return self.quoted(rest, index, double=True)
        if head == "'":
            return self.quoted(rest, index, double=False)
        if head in "[{":
            return _flow(rest, lambda m: self.fail(index, m))
        if head in "&*!":
            self.fail(index, "anchors, aliases and tags are not supported; write the value.")
        return self.plain(rest, indent, index)

    def plain(self, first: str, indent: int, index: int) -> Value:
        parts = [_strip_comment(first)]
        start = index
        while self.pos < len(self.lines):
            text = self.lines[self.pos]
            if text.strip() and (self.indent(self.pos) <= indent
                                 or text.strip().startswith("#")):
                break
            parts.append(_strip_comment(text.strip()) if text.strip() else "")
            self.pos += 1
        while parts and parts[-1] == "":
            parts.pop()
        value = _fold(parts)
        if len(parts) == 1 and value in _NULLS:
            return None
        if ": " in value or value.endswith(":"):
            self.notes.append(f"line {self.line_no(start)}: a plain (unquoted) value holds "
                              "': ', which strict YAML readers refuse; quote it.")
        return value

    def quoted(self, first: str, index: int, *, double: bool) -> str:
        mark = '"' if double else "'"
        pieces: list[str] = []
        text, line = first[1:], index
        while (end := _closing_quote(text, double=double)) is None:
            pieces.append(text)
            line += 1
            if line >= len(self.lines):
                self.fail(index, f"the string opened with {mark} is never closed.")
            text = self.lines[line]
        pieces.append(text[:end])
        after = text[end + 1:].strip()
        if after and not after.startswith("#"):
            self.fail(line, f"unexpected text after the closing {mark}.")
        self.pos = line + 1
        raw = _fold_quoted(pieces, double=double)
        if double:
            return _unescape(raw, lambda message: self.fail(index, message))
        return raw.replace("''", "'")

    def block_scalar(self, header: str, indent: int, index: int) -> str:
        match = _BLOCK_HEADER.fullmatch(header)
        if match is None:
            self.fail(index, f"a block scalar header {header[:20]!r} other than |, >, |-, >-, "
                             "|+ or >+ (with an optional indentation digit).")
        chomp = match["c1"] or match["c2"] or ""
        digit = match["i1"] or match["i2"]
        raw: list[str] = []
        content_indent = indent + int(digit) if digit else None
        while self.pos < len(self.lines):
            text = self.lines[self.pos]
            if not text.strip():
                raw.append("")
                self.pos += 1
                continue
            column = len(text) - len(text.lstrip(" "))
            if content_indent is None:
                if column <= indent:
                    break
                content_indent = column
            if column < content_indent:
                break
            raw.append(text[content_indent:])
            self.pos += 1
        trailing = 0
        while raw and raw[-1] == "":
            raw.pop()
            trailing += 1
        if not raw:
            return "\n" * trailing if chomp == "+" else ""
        text = "\n".join(raw) if match["style"] == "|" else _fold_block(raw)
        if chomp == "-":
            return text
        return text + "\n" + ("\n" * trailing if chomp == "+" else "")


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _strip_comment(text: str) -> str:
    cut = text.find(" #")
    return (text if cut < 0 else text[:cut]).rstrip()


def _fold(parts: list[str]) -> str:
    """Fold the lines of a multi-line plain or quoted scalar: a line break becomes a space,
    each empty line a newline."""
    out = parts[0] if parts else ""
    empty = 0
    for part in parts[1:]:
        if part == "":
            empty += 1
            continue
        out += ("\n" * empty if empty else " ") + part
        empty = 0
    return out


def _fold_quoted(pieces: list[str], *, double: bool) -> str:
    """Fold the lines of a quoted string: its inner lines lose their surrounding spaces, a
    line break becomes a space, each empty line a newline, an escaped line break nothing."""
    if len(pieces) == 1:
        return pieces[0]
    lines = [pieces[0].rstrip(" \t"), *(p.strip(" \t") for p in pieces[1:-1]),
             pieces[-1].lstrip(" \t")]
    out, empty = lines[0], 0
    for number, line in enumerate(lines[1:], start=1):
        if line == "" and number < len(lines) - 1:
            empty += 1
            continue
        escaped = len(out) - len(out.rstrip("\\"))
        if double and escaped % 2 == 1 and not empty:
            out = out[:-1] + line
        else:
            out += ("\n" * empty if empty else " ") + line
        empty = 0
    return out


def _fold_block(lines: list[str]) -> str:
    """YAML's folding of a ``>`` block: lines of one paragraph join with a space, each empty
    line is a newline, and more-indented lines keep their line breaks."""
    out = ""
    empty = 0
    previous: str | None = None
    for line in lines:
        if line == "":
            empty += 1
            continue
        kind = "more" if line[0] in " \t" else "normal"
        if previous is None:
            out = "\n" * empty + line
        elif previous == "normal" and kind == "normal":
            out += (" " if empty == 0 else "\n" * empty) + line
        else:
            out += "\n" * (empty + 1) + line
        previous, empty = kind, 0
    return out


def _closing_quote(text: str, *, double: bool) -> int | None:
    i = 0
    while i < len(text):
        char = text[i]
        if double and char == "\\":
            i += 2
            continue
        if not double and char == "'" and text[i + 1:i + 2] == "'":
            i += 2
            continue
        if char == ('"' if double else "'"):
            return i
        i += 1
    return None


def _unescape(text: str, fail: _Fail) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = text[i + 1:i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in _HEX_ESCAPES:
            digits = text[i + 2:i + 2 + _HEX_ESCAPES[code]]
            if len(digits) != _HEX_ESCAPES[code] or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
                fail(f"the escape \\{code}{digits} is not {_HEX_ESCAPES[code]} hex digits.")
            out.append(chr(int(digits, 16)))
            i += 2 + len(digits)
        else:
            fail(f"the escape \\{code} is not a YAML escape.")
    return "".join(out)


def _flow(text: str, fail: _Fail) -> Value:
    """A one-line flow list or mapping of scalars: ``[a, "b"]``, ``{k: v}``."""
    close = "]" if text[0] == "[" else "}"
    items: list[str] = []
    current = ""
    i = 1
    while True:
        if i >= len(text):
            fail(f"the {text[0]} is not closed on its line; write the list on one line or as "
                 "'- item' lines.")
        char = text[i]
        if char in "\"'":
            end = _closing_quote(text[i + 1:], double=char == '"')
            if end is None:
                fail(f"the string opened with {char} is never closed.")
            current += text[i:i + end + 2]
            i += end + 2
            continue
        if char in "[{":
            fail("nested flow collections are not supported.")
        if char == close:
            break
        if char == ",":
            items.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    after = text[i + 1:].strip()
    if after and not after.startswith("#"):
        fail(f"unexpected text after the closing {close}.")
    if current.strip():
        items.append(current.strip())
    if close == "]":
        return [_flow_scalar(item, fail) for item in items]
    mapping: dict[str, Value] = {}
    for item in items:
        match = _KEY.fullmatch(item)
        if match is None:
            fail(f"{item[:40]!r} is not 'key: value'.")
        key = (_unescape(match["dq"], fail) if match["dq"] is not None
               else match["sq"].replace("''", "'") if match["sq"] is not None
               else match["plain"])
        mapping[key] = _flow_scalar((match["rest"] or "").strip(), fail)
    return mapping


def _flow_scalar(item: str, fail: _Fail) -> str | None:
    if item.startswith('"'):
        return _unescape(item[1:-1], fail)
    if item.startswith("'"):
        return item[1:-1].replace("''", "'")
    return None if item in _NULLS or not item else item
