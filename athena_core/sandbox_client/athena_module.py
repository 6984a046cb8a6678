"""Builds the sandbox's ``athena`` module from the operations the host sends.

``athena.recall(...)``, ``athena.episodic.record(...)`` and every other
operation keep the host API's names and docstrings; each call becomes one frame
to the host, which checks and runs it. Results come back as plain data; dicts
allow attribute access (``hit.text``) like the host's values.

A failed operation raises the class of the host's error: ``athena.errors`` is
generated from the error classes the host sends (``athena_core.errors``: same
names, same hierarchy), so ``except athena.errors.MemoryNotFoundError`` works.
An argument value that cannot travel in a call frame (no JSON form, a dict key that
is not a string, past the frame's size or nesting limits) is sent as a note saying
so (``frames.UNSENDABLE``), which the host refuses as it refuses such values: so
the program gets the error a host application would get for the same call.
A misspelt operation or field raises an AttributeError that lists the valid names.
"""

from __future__ import annotations

import builtins
import datetime
import difflib
import math
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
        what = "error class" if path == "athena.errors" else "operation"
        raise _unknown(f"{path} has no {what}", name, self._names())

    def _names(self) -> list[str]:
        return [n for n in self.__dict__ if not n.startswith("_")]


class ErrorClasses(Namespace):
    """``athena.errors``: the host's error classes, each made on first use (making all
    of them, about 50, cost every program half a millisecond before it started)."""

    def __getattr__(self, name: str) -> Any:
        spec = self.__dict__["_specs"].get(name)
        if spec is None:
            return super().__getattr__(name)
        bases = []
        for base in spec.get("bases", []):
            cls = getattr(self, base, None) if base in self._specs else getattr(builtins, base,
                                                                                None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                bases.append(cls)
        if not any(issubclass(b, AthenaError) for b in bases):
            bases.insert(0, AthenaError)
        made = type(name, tuple(bases), {"__doc__": spec.get("doc") or None,
                                          "__module__": "athena.errors"})
        setattr(self, name, made)
        return made

    def _names(self) -> list[str]:
        return sorted({*self._specs, *super()._names()})

    def __dir__(self) -> list[str]:
        return self._names()

    def __repr__(self) -> str:
        return f"<athena.errors: {len(self._names())} error classes>"


def build_errors(classes: list[dict[str, Any]]) -> Namespace:
    """``athena.errors``: the host's error classes (names, bases, first doc lines), parents
    first, built on :class:`AthenaError`. A namespace, not a module object (which some
    sandboxes withhold from programs); ``import athena.errors`` finds it all the same."""
    specs = {name: spec for spec in classes
             if (name := str(spec.get("name", ""))).isidentifier() and name != "AthenaError"}
    module = ErrorClasses(_path="athena.errors", _specs=specs)
    module.AthenaError = AthenaError
    module.__all__ = sorted({*specs, "AthenaError"})
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


#: Deepest nesting sent (the frame adds its own levels around an argument).
_MAX_DEPTH = frames.MAX_DEPTH - 8
#: Larger integers have no JSON text here (Python limits int-to-text conversion).
_MAX_INT_BITS = 14_000


def _unsendable(why: str) -> dict[str, str]:
    return {frames.UNSENDABLE: why}


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON data: datetimes as ISO strings, tuples as lists, and each part
    that has no JSON form (or would nest too deeply) as a note saying why."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= _MAX_INT_BITS else _unsendable(
            f"a {value.bit_length()}-bit integer")
    if isinstance(value, float):
        return value if math.isfinite(value) else _unsendable(f"the number {value}")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict) and depth >= _MAX_DEPTH:
        return _unsendable(f"nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return _unsendable("a dict with a key that is not a string")
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return _unsendable(f"a value of type {type(value).__name__}")


class Channel:
    """The worker's end of the bridge."""

    def __init__(self, sock: socket.socket, max_reply_bytes: int,
                 max_call_bytes: int = 1 << 20) -> None:
        self._sock = sock
        self._max = max_reply_bytes
        self._max_call = max_call_bytes
        self._next_id = 0
        self.errors: Namespace | None = None

    def _frame(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        """The encoded call frame. While it is larger than the host accepts, the largest
        argument goes as a note that it was too large (the host would end the program
        for the frame, but refuses the note as an argument, after its other checks)."""
        values: dict[int | str, Any] = {i: _plain(v) for i, v in enumerate(args)}
        values.update((k, _plain(v)) for k, v in kwargs.items())
        while True:
            data: bytes = frames.encode({
                "type": "call", "id": self._next_id, "op": operation,
                "args": [v for k, v in values.items() if isinstance(k, int)],
                "kwargs": {k: v for k, v in values.items() if isinstance(k, str)}})
            try:
                if len(data) - frames.HEADER.size > self._max_call:
                    raise frames.FrameError(f"more than the {self._max_call:,} bytes of a call")
                frames.check_shape(data[frames.HEADER.size:])
                return data
            except frames.FrameError as exc:
                sizes = {key: len(frames.encode({"type": "", "v": value}))
                         for key, value in values.items()
                         if not (isinstance(value, dict) and frames.UNSENDABLE in value)}
                if not sizes:
                    raise
                values[max(sizes, key=sizes.__getitem__)] = _unsendable(
                    f"too large to send: {exc}")

    def call(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._next_id += 1
        self._sock.sendall(self._frame(operation, args, kwargs))
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
