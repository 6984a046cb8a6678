"""The API tree: one stub file per operation, generated from the registry.

An agent should not read every operation's documentation up front. It reads the
tree that :func:`write_tree` makes from the registry, a little at a time: one
stub file per operation, in folders that mirror the dotted names, with a short
``README.md`` index at the root and in every namespace::

    README.md               namespaces and top-level operations, one line each
    recall.py               a top-level operation: athena.recall(...)
    episodic/README.md      the operations of athena.episodic, one line each
    episodic/timeline.py    signature, documentation and permissions
    _types.py               the values operations return (when there are any)

Executors mount the tree read-only at :data:`SANDBOX_API_PATH` inside the
sandbox; :func:`tree_for` keeps one tree per distinct set of operations in a
cache directory, so asking again costs a render in memory and one ``stat``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import inspect
import os
import re
import secrets
import shutil
import tempfile
import typing
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from athena_core._ast import parse_python
from athena_core.api.reference import signature_text
from athena_core.api.registry import name_problem
from athena_core.api.validation import describe_type
from athena_core.errors import InvalidArgumentError

if TYPE_CHECKING:

    from athena_core.api.registry import Operation

__all__ = ["SANDBOX_API_PATH", "by_name", "readable_signature", "render_tree", "stub_path",
           "tree_for", "write_tree"]

#: Where executors mount the API tree (read-only) inside the sandbox.
SANDBOX_API_PATH = "/athena/apis"

#: Bumped whenever the tree's layout or file format changes (part of the cache key).
_FORMAT = "athena-api-tree 1"
#: Present at the root of every tree; only a directory holding it is ever replaced.
_MARKER = ".athena-api-tree"
_TYPES_FILE = "_types.py"
_DIR_MODE = 0o755
_FILE_MODE = 0o644
_WRAP_AT = 88


# --- names and paths -----------------------------------------------------------------


def stub_path(name: str) -> str:
    """Where operation ``name`` lives in the tree: ``recall.py``, ``episodic/timeline.py``."""
    return "/".join(_parts(name)) + ".py"


def _parts(name: str) -> list[str]:
    if name_problem(name) is not None:
        raise InvalidArgumentError(
            f"Operation name {name!r} cannot be placed in the API tree: every dotted "
            "part must be a public Python identifier.")
    return name.split(".")


def by_name(operations: Iterable[Operation]) -> list[Operation]:
    seen: dict[str, Operation] = {}
    for op in operations:
        if op.name in seen and seen[op.name] is not op:
            raise InvalidArgumentError(f"Operation {op.name!r} is given twice.")
        seen[op.name] = op
    return [seen[name] for name in sorted(seen)]


# --- rendering -------------------------------------------------------------------------

_QUOTED = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_QUALIFIER = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Za-z_])")


def _readable(text: str) -> str:
    """Drop module qualifiers (``collections.abc.``, ``athena_core.x.``) outside string literals."""
    pieces = _QUOTED.split(text)
    return "".join(p if i % 2 else _QUALIFIER.sub("", p) for i, p in enumerate(pieces))


def readable_signature(op: Operation, omit: Collection[str] = ()) -> str:
    """The operation's signature with readable type names, e.g. ``recall(query: str, ...)``;
    the parameters named in ``omit`` left out."""
    return op.name + _readable(signature_text(op, omit)[len(op.name):])


def _annotation(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    return _readable(inspect.formatannotation(annotation))


def _split_top_level(text: str) -> list[str]:
    """Split at commas that are outside brackets and string literals."""
    parts, depth, quote, start, escaped = [], 0, "", 0, False
    for i, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _def_line(op: Operation, short: str) -> str | None:
    """``def short(...) -> R:``, wrapped one parameter a line when long; None if unparsable."""
    text = readable_signature(op)[len(op.name):]  # "(params) -> returns"
    line = f"def {short}{text}:"
    if len(line) > _WRAP_AT:
        params_end = text.rfind(") -> ")
        params = _split_top_level(text[1:params_end]) if params_end > 0 else []
        if params:
            inner = "".join(f"    {p},\n" for p in params)
            line = f"def {short}(\n{inner}){text[params_end + 1:]}:"
    try:
        parse_python(f"{line}\n    ...\n")
    except SyntaxError:
        return None
    return line


def _docstring(text: str, indent: str) -> str:
    """``text`` as a triple-quoted literal that :func:`ast.get_docstring` returns unchanged."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    lines = body.split("\n")
    if len(lines) == 1:
        return f'{indent}"""{body}"""\n'
    rest = "".join(f"{indent}{line}\n" if line else "\n" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{rest}{indent}"""\n'


def _value_types(annotation: Any, found: dict[str, type],
                 fields: dict[str, dict[str, Any]] | None = None) -> None:
    """Collect the attrs classes and dataclasses that ``annotation`` mentions.

    Given ``fields``, also record each class's field hints there and collect the
    classes those mention, and so on.
    """
    if isinstance(annotation, type) and (attrs.has(annotation)
                                         or dataclasses.is_dataclass(annotation)):
        key = f"{annotation.__name__} {annotation.__module__}"
        if key in found:
            return
        found[key] = annotation
        if fields is not None:
            fields[key] = _field_hints(annotation)
            for hint in fields[key].values():
                _value_types(hint, found, fields)
    for arg in typing.get_args(annotation):
        _value_types(arg, found, fields)


def _field_hints(cls: type) -> dict[str, Any]:
    """Field name to type hint, in declaration order."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that cannot be resolved: keep the raw text
        hints = dict(getattr(cls, "__annotations__", {}))
    if attrs.has(cls):
        names = [field.name for field in attrs.fields(cls)]
    else:
        names = [field.name for field in dataclasses.fields(cls)]
    return {name: hints.get(name, Any) for name in names}


def _stub(op: Operation, value_types: Mapping[str, type]) -> str:
    short = op.name.rpartition(".")[2]
    signature = op.signature
    sections = [op.doc or "(undocumented)"]
    described = [f"    {p.name}: {describe_type(p.annotation)}"
                 for p in signature.parameters.values()]
    if described:
        sections.append("Arguments:\n" + "\n".join(described))
    returns = f"Returns: {describe_type(signature.return_annotation)}."
    mentioned: dict[str, type] = {}
    _value_types(signature.return_annotation, mentioned)
    if mentioned and value_types:
        names = ", ".join(sorted(cls.__name__ for cls in mentioned.values()))
        returns += f" ({names}: see {_TYPES_FILE} at the root of this tree.)"
    sections.append(f"{returns}\nPermissions: {', '.join(sorted(op.permissions))}.")
    line = _def_line(op, short)
    if line is None:  # a default whose repr is not Python: keep the text, simplify the def
        sections.insert(0, f"Signature: {readable_signature(op)}")
        line = f"def {short}(*args: Any, **kwargs: Any) -> Any:"
    docstring = _docstring("\n\n".join(sections), "    ")
    return (f"# athena.{op.name} - generated from the Athena API registry; do not edit.\n"
            f"# In a program: import athena; athena.{op.name}(...)\n\n\n"
            f"{line}\n{docstring}    ...\n")


def _types_module(value_types: Mapping[str, type], fields: Mapping[str, dict[str, Any]]
                  ) -> str:
    out = ['"""Values that operations return.', "",
           "In a program they arrive as dicts whose keys are also attributes",
           '(``hit.text == hit["text"]``); timestamps are ISO-8601 strings.', '"""']
    for key in sorted(value_types):
        cls = value_types[key]
        out += ["", "", f"class {cls.__name__}:"]
        doc = inspect.cleandoc(cls.__doc__ or "")
        if doc and not doc.startswith(f"{cls.__name__}("):  # skip generated dataclass docs
            out += [_docstring(doc, "    ").rstrip("\n"), ""]
        out += [f"    {name}: {_annotation(hint)}" for name, hint in fields[key].items()] or [
            "    ..."]
    return "\n".join(out) + "\n"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_tree(operations: Iterable[Operation]) -> dict[str, str]:
    """Every file of the tree, by relative POSIX path."""
    ops = by_name(operations)
    value_types: dict[str, type] = {}
    fields: dict[str, dict[str, Any]] = {}
    for op in ops:
        _value_types(op.signature.return_annotation, value_types, fields)
        for param in op.signature.parameters.values():
            _value_types(param.annotation, value_types, fields)

    folders: dict[tuple[str, ...], list[Operation]] = {(): []}
    for op in ops:
        parts = tuple(_parts(op.name))
        for depth in range(len(parts)):
            folders.setdefault(parts[:depth], [])
        folders[parts[:-1]].append(op)

    def children(folder: tuple[str, ...]) -> list[tuple[str, ...]]:
        return sorted(f for f in folders if len(f) == len(folder) + 1 and f[:-1] == folder)

    def namespace_line(folder: tuple[str, ...]) -> str:
        direct = [op.name.rpartition(".")[2] for op in folders[folder]]
        text = f"- `{folder[-1]}/` - {_plural(len(direct), 'operation')}"
        text += f": {', '.join(direct)}" if direct else ""
        nested = [f"{child[-1]}/" for child in children(folder)]
        return text + (f"; namespaces: {', '.join(nested)}" if nested else "")

    def op_lines(folder: tuple[str, ...]) -> list[str]:
        return [f"- `{op.name.rpartition('.')[2]}` - {op.summary or '(undocumented)'}"
                for op in folders[folder]]

    files: dict[str, str] = {_MARKER: f"{_FORMAT}\n"}
    top = folders[()]
    example = top[0].name if top else ops[0].name if ops else "recall"
    nested_ops = [op.name for op in ops if "." in op.name]
    nested_example = f" or `athena.{nested_ops[0]}(...)`" if nested_ops else ""
    root = ["# Athena API", "",
            f"The {_plural(len(ops), 'operation')} a program can call, one stub file each:",
            "signature, documentation, argument types and permissions. In a program,",
            f"`import athena`, then call `athena.{example}(...)`{nested_example}.", "",
            "Read further:", "",
            "- `NAMESPACE/README.md` lists a namespace's operations, one line each.",
            "- `NAMESPACE/OPERATION.py` (top-level ones: `OPERATION.py`) is one operation "
            "in full."]
    if value_types:
        root.append(f"- `{_TYPES_FILE}` describes the values operations return.")
    if top:
        root += ["", "## Top-level operations", "", *op_lines(())]
    if children(()):
        root += ["", "## Namespaces", "", *(namespace_line(f) for f in children(()))]
    files["README.md"] = "\n".join(root) + "\n"

    for folder in sorted(folders):
        if not folder:
            continue
        dotted = ".".join(folder)
        lines = [f"# {dotted}", "",
                 f"Call these as `athena.{dotted}.NAME(...)`; `NAME.py` in this folder has the",
                 "full signature and documentation."]
        if folders[folder]:
            lines += ["", "## Operations", "", *op_lines(folder)]
        if children(folder):
            lines += ["", "## Namespaces", "", *(namespace_line(f) for f in children(folder))]
        files["/".join(folder) + "/README.md"] = "\n".join(lines) + "\n"

    for op in ops:
        files[stub_path(op.name)] = _stub(op, value_types)
    if value_types:
        files[_TYPES_FILE] = _types_module(value_types, fields)
    return dict(sorted(files.items()))


def _digest(files: Mapping[str, str]) -> str:
    sha = hashlib.sha256(_FORMAT.encode())
    for path, text in sorted(files.items()):
        data = text.encode("utf-8")
        sha.update(f"\0{path}\0{len(data)}\0".encode())
        sha.update(data)
    return sha.hexdigest()[:32]


# --- writing ---------------------------------------------------------------------------


def _stage(files: Mapping[str, str], parent: Path, name: str) -> Path:
    """Write ``files`` into a new hidden directory in ``parent`` and return it."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    try:
        for relative, text in files.items():
            path = staging / relative
            for folder in reversed(path.relative_to(staging).parents[:-1]):
                if not (staging / folder).is_dir():
                    (staging / folder).mkdir()
                    os.chmod(staging / folder, _DIR_MODE)
            with open(path, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            os.chmod(path, _FILE_MODE)
        os.chmod(staging, _DIR_MODE)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def write_tree(operations: Iterable[Operation], directory: str | os.PathLike[str]) -> Path:
    """Write the API tree of ``operations`` to ``directory`` and return its absolute path.

    The tree is built in a hidden directory next to ``directory`` and renamed
    into place, so a reader sees the old tree or the new one, never a partial
    one. An existing API tree there is replaced (when two processes write at
    once, the last rename wins); any other existing, non-empty directory is
    refused with :class:`~athena_core.errors.InvalidArgumentError`, so nothing
    that is not a tree is ever deleted. Output is deterministic; files are
    ``0o644`` and directories ``0o755``, readable by a sandbox that runs as
    another user. Raises ``InvalidArgumentError`` for an operation name that is
    not a dotted public identifier, and ``OSError`` when the filesystem refuses.
    """
    files = render_tree(operations)
    target = Path(directory).expanduser().absolute()
    if not _replaceable(target):
        raise InvalidArgumentError(
            f"{target} exists and is not an Athena API tree; not replacing it.",
            hint="Choose a new or empty directory.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _stage(files, target.parent, target.name)
    aside: list[Path] = []
    try:
        for _attempt in range(10):
            if os.path.lexists(target):
                old = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
                with contextlib.suppress(FileNotFoundError):  # another writer moved it first
                    os.rename(target, old)
                    aside.append(old)
            try:
                os.rename(staging, target)
                break
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) and os.path.lexists(target):
                    continue  # another writer's tree landed in between: move it aside too
                if aside and not os.path.lexists(target):
                    os.rename(aside.pop(), target)
                raise
        else:
            raise OSError(errno.EBUSY, f"{target} keeps being replaced by another writer")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for old in aside:
            if old.is_symlink():
                old.unlink()
            elif _replaceable(old):
                shutil.rmtree(old, ignore_errors=True)
    return target


def _replaceable(path: Path) -> bool:
    """Nothing there, an empty directory, or an API tree."""
    if not os.path.lexists(path):
        return True
    return path.is_dir() and ((path / _MARKER).is_file() or not any(path.iterdir()))


def tree_for(operations: Iterable[Operation], cache_root: str | os.PathLike[str]) -> Path:
    """The API tree of exactly ``operations``, cached as ``cache_root/<content hash>/``.

    The hash covers every file of the tree, so a changed docstring, signature
    or value type gives a new directory and an unchanged set reuses the old
    one: the tree is rendered in memory (a few milliseconds) and found with one
    ``stat``; nothing is written. Callers asking once per execution can keep the
    returned path, e.g. in ``ApiRegistry.cache``, which empties when an
    operation is added. Two processes that race both build; one rename wins and
    the other uses the winner's tree. Old trees are never removed here, since a
    running sandbox may still have one mounted.
    """
    files = render_tree(operations)
    root = Path(cache_root).expanduser().absolute()
    target = root / _digest(files)
    if target.is_dir():
        return target
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # not ours to change if another user made it
            os.chmod(root, _DIR_MODE)
    staging = _stage(files, root, target.name)
    try:
        os.rename(staging, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
