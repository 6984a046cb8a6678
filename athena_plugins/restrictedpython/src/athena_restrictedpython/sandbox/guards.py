"""The globals a restricted program runs with, and how it is compiled.

RestrictedPython rewrites the program so that every attribute read goes through
``_getattr_``, every subscript through ``_getitem_``, every attribute or item
assignment through ``_write_``, every loop through ``_getiter_`` and every
``print`` through ``_print_``; names and attributes starting with ``_`` are
refused when the program is compiled, and so are ``exec``/``eval`` calls. This
module supplies those hooks:

* attribute reads use RestrictedPython's ``safer_getattr`` (no ``_`` names, no
  ``str.format``, no frame/code/generator internals), then refuse results that are
  modules, frames, tracebacks, code objects or the unsafe builtins (``open``,
  ``exec``, ``eval``, ``__import__``, ...); ``AttributeError.obj`` is withheld
  (CVE-2024-47532);
* writes are allowed on dicts, lists, byte arrays, deques, and objects and
  classes the program defined itself; nothing else;
* ``import`` reaches ``athena`` and a small allow-list of standard modules, each
  as a read-only view of its public attributes without submodules (a module
  attribute such as ``statistics.sys`` would otherwise hand out ``sys``);
* ``print`` writes to the worker's stdout as it happens, so the host's output
  cap and wall-time limit see it live.

Stdlib and RestrictedPython only: this runs in the worker process.
"""

from __future__ import annotations

import ast
import builtins
import collections
import importlib
import operator
import re
import sys
import types
import weakref
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safer_getattr,
)

__all__ = ["ALLOWED_MODULES", "compile_program", "preload", "restricted_globals"]

#: Standard-library modules a program may import besides ``athena``.
ALLOWED_MODULES = ("bisect", "cmath", "collections", "datetime", "decimal", "fractions",
                   "functools", "heapq", "itertools", "json", "math", "random", "re",
                   "statistics", "textwrap")
#: Public attributes withheld from a module view. ``update_wrapper``/``wraps`` copy and
#: merge attributes by any name (``updated=("__globals__",)`` merges a function's real
#: globals into the program's); ``UserString.format`` runs ``str.format`` on the
#: program's format string outside the guards (CVE-2023-41039 disclosure).
_WITHHELD = {"functools": frozenset({"update_wrapper", "wraps"}),
             "collections": frozenset({"UserString"})}
#: Modules that C functions of allowed modules import through the *calling frame's*
#: ``__import__`` (``datetime.strptime`` imports ``_strptime``). Loaded before the program
#: runs, while files can still be read; programs cannot name them (RestrictedPython
#: refuses names starting with ``_``), so only such internal imports reach them.
_INTERNAL_IMPORTS = ("_strptime",)

#: Objects no attribute read, item read or module view may hand to a program.
_FORBIDDEN_TYPES = (types.ModuleType, types.FrameType, types.TracebackType, types.CodeType)
_UNSAFE_BUILTINS = frozenset(
    id(getattr(builtins, name)) for name in (
        "open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars",
        "breakpoint", "input", "getattr", "setattr", "delattr", "memoryview", "type", "help",
        "exit", "quit", "copyright", "credits", "license")
    if hasattr(builtins, name))
#: Containers a program may assign items or attributes on.
_WRITABLE = (dict, list, bytearray, collections.deque)

_program_classes: weakref.WeakSet[type] = weakref.WeakSet()


class ModuleView:
    """A read-only view of an allowed module: its public attributes, no submodules.

    It has no ``__name__``, so ``from MODULE import NAME`` cannot fall back to
    ``sys.modules["MODULE.NAME"]`` for a name the view does not have.
    """

    __slots__ = ("_view_attrs", "_view_name")

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        object.__setattr__(self, "_view_name", name)
        object.__setattr__(self, "_view_attrs", attrs)

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._view_attrs[attr]
        except KeyError:
            raise AttributeError(f"module {self._view_name!r} has no attribute {attr!r} "
                                 "that programs may use") from None

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"module {self._view_name!r} is read-only")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"module {self._view_name!r} is read-only")

    def __dir__(self) -> list[str]:
        return sorted(self._view_attrs)

    def __repr__(self) -> str:
        return f"<module {self._view_name!r}>"


def _unsafe(value: Any) -> bool:
    return isinstance(value, _FORBIDDEN_TYPES) or id(value) in _UNSAFE_BUILTINS


def _checked(value: Any, what: str) -> Any:
    if _unsafe(value):
        raise AttributeError(f"{what} is a {type(value).__name__} object, which programs "
                             "may not use")
    return value


def module_view(name: str) -> ModuleView:
    module = importlib.import_module(name)
    withheld = _WITHHELD.get(name, frozenset())
    return ModuleView(name, {key: value for key, value in vars(module).items()
                             if not key.startswith("_") and key not in withheld
                             and not _unsafe(value)})


def preload() -> None:
    """Import the allowed modules and their lazy dependencies (before the audit hook)."""
    for name in (*ALLOWED_MODULES, *_INTERNAL_IMPORTS):
        importlib.import_module(name)


# --- the hooks RestrictedPython's rewritten code calls ---------------------------------


def guarded_getattr(obj: Any, name: str, default: Any = raise_) -> Any:
    """``obj.name`` and ``getattr(obj, name[, default])`` in a program."""
    if isinstance(obj, BaseException) and name == "obj":
        raise AttributeError("the object behind an AttributeError is not available to "
                             "programs")
    try:
        value = safer_getattr(obj, name, raise_)
    except AttributeError:
        if default is raise_:
            raise
        return default
    return _checked(value, f"attribute {name!r}")


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def guarded_getitem(obj: Any, key: Any) -> Any:
    return _checked(obj[key], "the item")


def _is_program_object(obj: Any) -> bool:
    if isinstance(obj, type):
        return obj in _program_classes
    return type(obj) in _program_classes


def guarded_write(obj: Any) -> Any:
    """What ``obj.x = ...``, ``obj[k] = ...`` and ``del`` of those may change."""
    if isinstance(obj, _WRITABLE) or _is_program_object(obj):
        return obj
    raise TypeError(f"programs may not change the attributes or items of "
                    f"{type(obj).__name__} objects")


def _attribute_name(name: Any) -> str:
    if type(name) is not str:
        raise TypeError("an attribute name must be a str")
    if name.startswith("_"):
        raise AttributeError(f'"{name}" is an invalid attribute name because it starts '
                             'with "_"')
    return name


def guarded_setattr(obj: Any, name: str, value: Any) -> None:
    setattr(guarded_write(obj), _attribute_name(name), value)


def guarded_delattr(obj: Any, name: str) -> None:
    delattr(guarded_write(obj), _attribute_name(name))


def program_class(name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                  **kwargs: Any) -> type:
    """The metaclass of every ``class`` statement: remembers the class as the program's."""
    cls = type(name, bases, namespace, **kwargs)
    _program_classes.add(cls)
    return cls


_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
            "/=": operator.itruediv, "%=": operator.imod, "**=": operator.ipow,
            "<<=": operator.ilshift, ">>=": operator.irshift, "|=": operator.ior,
            "^=": operator.ixor, "&=": operator.iand, "//=": operator.ifloordiv,
            "@=": operator.imatmul}


def inplacevar(op: str, target: Any, value: Any) -> Any:
    """``name += value`` (RestrictedPython refuses augmented assignment elsewhere)."""
    return _INPLACE[op](target, value)


def apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Calls with ``*args`` or ``**kwargs``."""
    return func(*args, **kwargs)


class PrintToStdout:
    """``print`` in a program writes to stdout at once; ``printed`` is this scope's text."""

    def __init__(self, _getattr_: Any = None) -> None:
        self._getattr_ = _getattr_ or guarded_getattr
        self._stdout = sys.stdout
        self._parts: list[str] = []

    def write(self, text: str) -> None:
        self._stdout.write(text)
        self._parts.append(text)

    def flush(self) -> None:
        self._stdout.flush()

    def __call__(self) -> str:
        return "".join(self._parts)

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        if kwargs.get("file") is None:
            kwargs["file"] = self
        else:
            self._getattr_(kwargs["file"], "write")
        print(*objects, **kwargs)


def make_import(athena: types.ModuleType) -> Any:
    views: dict[str, ModuleView] = {}

    def guarded_import(name: str, globals: Any = None, locals: Any = None,
                       fromlist: Any = (), level: int = 0) -> Any:
        if level != 0:
            raise ImportError("relative imports are not allowed")
        if name == "athena":
            return athena
        if name == "athena.errors":  # `import athena.errors`, `from athena.errors import X`
            return athena.errors if fromlist else athena
        if name in _INTERNAL_IMPORTS:
            return sys.modules[name]
        if name not in ALLOWED_MODULES:
            raise ImportError(f"import of {name!r} is not allowed; programs may import "
                              f"athena, {', '.join(ALLOWED_MODULES)}", name=name)
        if name not in views:
            views[name] = module_view(name)
        return views[name]

    return guarded_import


def restricted_builtins(athena: types.ModuleType) -> dict[str, Any]:
    allowed = dict(safe_builtins)
    allowed.pop("_getattr_", None)
    allowed.update({
        "__import__": make_import(athena),
        "getattr": guarded_getattr, "hasattr": guarded_hasattr,
        "setattr": guarded_setattr, "delattr": guarded_delattr,
        # RestrictedPython 9 leaves the iterating builtins out because they iterate in C,
        # past ``_getiter_``. Here ``_getiter_`` is plain ``iter`` (no per-item checks),
        # so they bypass nothing.
        "all": all, "any": any, "dict": dict, "enumerate": enumerate, "filter": filter,
        "frozenset": frozenset, "iter": iter, "list": list, "map": map, "max": max,
        "min": min, "next": next, "reversed": reversed, "set": set, "sorted": sorted,
        "sum": sum, "tuple": tuple, "zip": zip, "bytes": bytes, "bytearray": bytearray,
        "ascii": ascii, "bin": bin, "dir": dir, "NotImplemented": NotImplemented,
        "object": object, "super": super, "property": property,
        "staticmethod": staticmethod, "classmethod": classmethod,
        "RecursionError": RecursionError, "TimeoutError": TimeoutError,
        "PermissionError": PermissionError, "FileNotFoundError": FileNotFoundError,
    })
    return allowed


def restricted_globals(athena: types.ModuleType) -> dict[str, Any]:
    """The globals of one program; ``athena`` is what ``import athena`` returns, and is
    ready without the import, as in the other executors."""
    return {
        "__builtins__": restricted_builtins(athena),
        "__name__": "__main__",
        "athena": athena,
        "__metaclass__": program_class,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": iter,
        "_write_": guarded_write,
        "_inplacevar_": inplacevar,
        "_apply_": apply,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_print_": PrintToStdout,
        # The last expression is compiled on its own and may print without the module
        # body having bound ``_print``.
        "_print": PrintToStdout(guarded_getattr),
    }


# --- compiling -------------------------------------------------------------------------

_LINE = re.compile(r"^Line (\d+): ")


class RestrictedSyntaxError(SyntaxError):
    """RestrictedPython refused the program."""


def compile_program(code: str, filename: str) -> tuple[types.CodeType, types.CodeType | None]:
    """The program's body and, if it ends with an expression, that expression (its value).

    Raises ``SyntaxError`` for invalid Python and :class:`RestrictedSyntaxError`
    (``lineno`` set) for what RestrictedPython refuses.
    """
    tree = ast.parse(code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile_restricted_exec(tree, filename)
    errors = list(body.errors)
    tail = None
    if last is not None:
        result = compile_restricted_eval(last, filename)
        errors += result.errors
        tail = result.code
    if errors or body.code is None:
        lines = [int(m.group(1)) if (m := _LINE.match(e)) else 0 for e in errors]
        errors = [e for _, e in sorted(zip(lines, errors, strict=True))]
        error = RestrictedSyntaxError("; ".join(errors) or "the program was refused")
        error.lineno = min((n for n in lines if n), default=None)
        raise error
    return body.code, tail
