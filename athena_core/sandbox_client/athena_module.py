"""Builds the sandbox's ``athena`` module from the operations the host sends.

``athena.recall(...)``, ``athena.episodic.record(...)`` and every other
operation keep the host API's names and docstrings; each call becomes one frame
to the host, which checks and runs it. Results come back as plain data; dicts
allow attribute access (``hit.text``) like the host's values.

A failed operation raises the class of the host's error: ``athena.errors`` is
generated from the error classes the host sends (``athena_core.errors``: same
names, same hierarchy), so ``except athena.errors.MemoryNotFoundError`` works.
A misspelt operation or field raises an AttributeError that lists the valid names.
"""

from __future__ import annotations

import builtins
import datetime
import difflib
import socket
import types
from collections.abc import Iterable
from typing import Any

import frames


class AthenaError(Exception):
    """Base class of every error Athena raises on purpose (the host's ``AthenaError``).

    ``message`` is the host's message; ``type`` the name of the error's class.
    """

    def __init__(self, message: str = "", *args: Any) -> None:
        super().__init__(message, *args)
        self.message = message

    @property
    def type(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:  # KeyError, a base of some, would repr() the message
        return str(self.message)


AthenaError.__module__ = "athena.errors"
#: Errors the host reports by a builtin class (an operation called with bad arguments).
_BUILTIN_ERRORS = {"TypeError": TypeError, "ValueError": ValueError}


def _unknown(what: str, name: str, names: Iterable[str]) -> AttributeError:
    """An AttributeError naming the valid names, the closest to ``name`` first."""
    names = sorted(names)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.7)
    listed = ", ".join(close + [n for n in names if n not in close]) or "(none)"
    guess = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return AttributeError(f"{what} {name!r}.{guess} Valid names: {listed}.")


class Record(dict[str, Any]):
    """A dict whose keys are also attributes: ``hit.text == hit["text"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            if name.startswith("__"):  # protocol probes (copy, pickle): the plain error
                raise AttributeError(name) from None
            raise _unknown("this result has no field", name, self) from None

    def __dir__(self) -> list[str]:
        return sorted(self)


class Namespace(types.SimpleNamespace):
    """A group of operations (``athena.episodic``); a misspelt name lists the valid ones."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        path = self.__dict__.get("_path", "athena")
        names = [n for n in self.__dict__ if not n.startswith("_")]
        what = "error class" if path == "athena.errors" else "operation"
        raise _unknown(f"{path} has no {what}", name, names)


def build_errors(classes: list[dict[str, Any]]) -> Namespace:
    """``athena.errors``: the host's error classes (names, bases, first doc lines), parents
    first, built on :class:`AthenaError`. A namespace, not a module object (which some
    sandboxes withhold from programs); ``import athena.errors`` finds it all the same."""
    module = Namespace(_path="athena.errors")
    module.AthenaError = AthenaError
    for spec in classes:
        name = str(spec.get("name", ""))
        if not name.isidentifier() or name == "AthenaError":
            continue
        bases = []
        for base in spec.get("bases", []):
            cls = getattr(module, base, None) or getattr(builtins, base, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                bases.append(cls)
        if not any(issubclass(b, AthenaError) for b in bases):
            bases.insert(0, AthenaError)
        setattr(module, name, type(name, tuple(bases), {
            "__doc__": spec.get("doc") or None, "__module__": "athena.errors"}))
    module.__all__ = sorted(n for n, v in vars(module).items() if isinstance(v, type))
    return module


def _error(errors: Namespace | None, kind: str, message: str) -> Exception:
    """The exception for a host error of class ``kind``."""
    if kind in _BUILTIN_ERRORS:
        return _BUILTIN_ERRORS[kind](message)
    cls = getattr(errors, kind, None) if errors is not None else None
    if not (isinstance(cls, type) and issubclass(cls, AthenaError)):
        # Not in the hierarchy (UnknownOperation, ResultTooLarge): still its own name.
        name = kind if kind.isidentifier() else "AthenaError"
        cls = type(name, (AthenaError,), {"__module__": "athena.errors"})
        if errors is not None and name != "AthenaError":
            setattr(errors, name, cls)
    error: Exception = cls(message)
    return error


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Channel:
    """The worker's end of the bridge."""

    def __init__(self, sock: socket.socket, max_reply_bytes: int) -> None:
        self._sock = sock
        self._max = max_reply_bytes
        self._next_id = 0
        self.errors: Namespace | None = None

    def call(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._next_id += 1
        frames.send(self._sock, {"type": "call", "id": self._next_id, "op": operation,
                                 "args": _plain(list(args)), "kwargs": _plain(kwargs)})
        reply = frames.recv(self._sock, self._max, Record)  # objects decode as Records
        if reply.get("type") != "reply" or reply.get("id") != self._next_id:
            raise _error(self.errors, "BridgeError", "unexpected reply from the host")
        if not reply.get("ok"):
            error = reply.get("error") or {}
            # Raised from None: the traceback ends at the program's call, not in here.
            raise _error(self.errors, str(error.get("type", "AthenaError")),
                         str(error.get("message", ""))) from None
        return reply.get("value")


def build(operations: list[dict[str, Any]], channel: Channel,
          errors: list[dict[str, Any]] | None = None) -> types.ModuleType:
    """The ``athena`` module: one function per operation, grouped by namespace, and
    ``athena.errors`` built from the host's ``errors`` (see :func:`build_errors`)."""
    module = types.ModuleType("athena", "Athena memory, reached through the host bridge.")
    module.errors = channel.errors = build_errors(errors or [])  # type: ignore[attr-defined]
    module.AthenaError = AthenaError  # type: ignore[attr-defined]
    module.Record = Record  # type: ignore[attr-defined]
    names = []
    for spec in operations:
        *path, leaf = spec["name"].split(".")
        owner: Any = module
        for depth, part in enumerate(path, 1):
            if not hasattr(owner, part):
                setattr(owner, part, Namespace(_path=".".join(["athena", *path[:depth]])))
            owner = getattr(owner, part)
        setattr(owner, leaf, _function(spec, channel))
        if not spec.get("refused"):  # a refused one is there only to be refused by the host
            names.append(spec["name"])
    module.operations = sorted(names)  # type: ignore[attr-defined]

    def missing(name: str) -> Any:
        if name.startswith("__"):  # import machinery and other protocol probes
            raise AttributeError(f"module 'athena' has no attribute {name!r}")
        raise _unknown("athena has no operation", name, names)

    module.__getattr__ = missing  # type: ignore[method-assign]
    return module


def _function(spec: dict[str, Any], channel: Channel) -> Any:
    name = spec["name"]

    def operation(*args: Any, **kwargs: Any) -> Any:
        return channel.call(name, args, kwargs)

    operation.__name__ = name.rsplit(".", 1)[-1]
    operation.__qualname__ = name
    operation.__doc__ = (f"{name}(): not allowed by this program's policy." if spec.get("refused")
                         else f"{spec.get('signature', name)}\n\n{spec.get('doc', '')}")
    return operation
