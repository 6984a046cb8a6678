"""Builds the sandbox's ``athena`` module from the operations the host sends.

``athena.recall(...)``, ``athena.episodic.record(...)`` and every other
operation keep the host API's names and docstrings; each call becomes one frame
to the host, which checks and runs it. Results come back as plain data; dicts
allow attribute access (``hit.text``) like the host's values.
"""

from __future__ import annotations

import datetime
import socket
import types
from typing import Any

import frames


class AthenaError(Exception):
    """An operation failed on the host; ``type`` is the host's error class name."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message


class Record(dict):
    """A dict whose keys are also attributes: ``hit.text == hit["text"]``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return sorted(self)


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

    def call(self, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._next_id += 1
        frames.send(self._sock, {"type": "call", "id": self._next_id, "op": operation,
                                 "args": _plain(list(args)), "kwargs": _plain(kwargs)})
        reply = frames.recv(self._sock, self._max, Record)  # objects decode as Records
        if reply.get("type") != "reply" or reply.get("id") != self._next_id:
            raise AthenaError("BridgeError", "unexpected reply from the host")
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise AthenaError(str(error.get("type", "Error")), str(error.get("message", "")))
        return reply.get("value")


def build(operations: list[dict[str, Any]], channel: Channel) -> types.ModuleType:
    """The ``athena`` module: one function per operation, grouped by namespace."""
    module = types.ModuleType("athena", "Athena memory, reached through the host bridge.")
    module.AthenaError = AthenaError  # type: ignore[attr-defined]
    module.Record = Record  # type: ignore[attr-defined]
    names = []
    for spec in operations:
        *path, leaf = spec["name"].split(".")
        owner: Any = module
        for part in path:
            if not hasattr(owner, part):
                setattr(owner, part, types.SimpleNamespace())
            owner = getattr(owner, part)
        setattr(owner, leaf, _function(spec, channel))
        names.append(spec["name"])
    module.operations = sorted(names)  # type: ignore[attr-defined]
    return module


def _function(spec: dict[str, Any], channel: Channel) -> Any:
    name = spec["name"]

    def operation(*args: Any, **kwargs: Any) -> Any:
        return channel.call(name, args, kwargs)

    operation.__name__ = name.rsplit(".", 1)[-1]
    operation.__qualname__ = name
    operation.__doc__ = f"{spec.get('signature', name)}\n\n{spec.get('doc', '')}"
    return operation
