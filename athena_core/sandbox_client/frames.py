"""Length-prefixed JSON frames: 4-byte big-endian length, then UTF-8 JSON.

Shared by the host and the sandboxed worker (stdlib only). Every frame is a JSON
object whose first key is its ``type``; the encoder writes it compactly, so a
frame's first bytes (``{"type":"result"``) tell its kind before the rest of it
has arrived.

Frames from a program are hostile: the host reads them with a
:class:`FrameReader`, which checks each frame's announced length against the
limit for its kind before buffering the body, and counts the values of the body
(:func:`check_shape`) before decoding builds any of them.
"""

from __future__ import annotations

import array
import itertools
import json
import re
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Any

HEADER = struct.Struct(">I")
#: Most values (containers and their members) one frame from a program may hold.
MAX_VALUES = 100_000
#: How deeply the containers of one frame from a program may nest.
MAX_DEPTH = 100
#: Longest error message a result frame carries (the rest is cut, and says so).
MAX_ERROR_CHARS = 4_000
#: The key of ``{UNSENDABLE: why}``, which a program's ``athena`` module sends in place of
#: an argument value that cannot travel in a call frame (no JSON form, too deep, too
#: large). The host refuses the call as it would refuse that value: with an
#: ``InvalidArgumentError``, after the same permission and scope checks.
UNSENDABLE = "__athena_unsendable__"


class FrameError(Exception):
    """A frame was malformed, too large, or the peer went away mid-frame."""


def encode(message: dict[str, Any], encoded: Mapping[str, str] | None = None) -> bytes:
    """The frame of ``message``. A lone surrogate, which UTF-8 cannot hold, travels as a
    JSON escape (``\\ud800``), so that the receiver can refuse it in words of its own.

    ``encoded`` holds more members whose values are JSON text already, in ASCII (what
    :func:`ascii_json` returns): the host encodes what every run frame carries once."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("ascii")
    if encoded:
        members = b",".join(json.dumps(key).encode("ascii") + b":" + value.encode("ascii")
                            for key, value in encoded.items())
        body = body[:-1] + (b"," if message else b"") + members + b"}"
    return HEADER.pack(len(body)) + body


def ascii_json(value: Any) -> str:
    """``value`` as compact JSON text in ASCII, for :func:`encode`'s ``encoded``."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def send(sock: socket.socket, message: dict[str, Any]) -> int:
    data = encode(message)
    sock.sendall(data)
    return len(data)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(body: bytes, object_hook: Callable[[dict[str, Any]], Any] | None = None
           ) -> dict[str, Any]:
    """One frame's JSON object; ``object_hook`` builds every object of it (``json.loads``)."""
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_no_constants,
                             object_hook=object_hook)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"frame is not UTF-8 JSON ({exc})") from None
    except RecursionError:
        raise FrameError("frame is nested too deeply") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise FrameError("frame is not a JSON object with a string 'type'")
    return message


#: A JSON string; an unterminated one runs to the end, so that no match can fail and be
#: retried from every later quote (which would take time quadratic in the frame's size).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def check_shape(body: bytes, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> None:
    """Raise FrameError if the JSON text ``body`` holds more than ``max_values`` values or
    nests deeper than ``max_depth``, judged on the bytes alone (nothing is decoded).

    Values are counted as containers plus separators, so every member of an array or
    object counts. Most frames are settled by three byte counts; only a frame near a
    limit has its strings blanked (their commas and brackets are text) and is counted
    again.
    """
    if len(body) <= max_depth:  # each value and each level takes a byte at least
        return
    openers = body.count(b"[") + body.count(b"{")
    if openers + body.count(b",") <= max_values and openers <= max_depth:
        return
    bare = _STRING.sub(b'""', body)
    openers = bare.count(b"[") + bare.count(b"{")
    if openers + bare.count(b",") > max_values:
        raise FrameError(f"frame holds more than {max_values:,} values")
    if openers > max_depth:
        steps = array.array("b", bare.translate(None, _NOT_BRACKETS).translate(_DEPTH_STEPS))
        if max(itertools.accumulate(steps), default=0) > max_depth:
            raise FrameError(f"frame is nested more than {max_depth} levels deep")


def encode_result(result: dict[str, Any], max_bytes: int) -> bytes:
    """The worker's ``result`` frame, cut to what the host accepts.

    A long error message is shortened. A value whose frame would exceed ``max_bytes``
    or the host's value limits is replaced by the start of its JSON text, and
    ``value_truncated`` gives the full text's size in bytes.
    """
    error = result.get("error")
    if isinstance(error, dict) and len(str(error.get("message", ""))) > MAX_ERROR_CHARS:
        message = str(error["message"])
        error = {**error, "message": message[:MAX_ERROR_CHARS]
                 + f" [... {len(message) - MAX_ERROR_CHARS:,} more characters]"}
    frame = {"type": "result", **result, "error": error}
    try:
        data = encode(frame)
        if len(data) - HEADER.size <= max_bytes:
            check_shape(data[HEADER.size:])
            return data
        text = _text(result.get("value"))
    except (FrameError, ValueError, TypeError, RecursionError):
        try:
            text = _text(result.get("value"))
        except (ValueError, TypeError, RecursionError):
            text = repr(result.get("value"))[:max_bytes // 8]
    # At most 6 bytes per character once encoded again (control characters as \u0000).
    preview = text[:max(0, max_bytes - 1024 - len(str(error or ""))) // 8]
    return encode({"type": "result", "value": preview,
                   "value_truncated": len(text.encode("utf-8", "replace")), "error": error})


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def recv(sock: socket.socket, max_bytes: int,
         object_hook: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """Read one whole frame (blocking); raise FrameError past ``max_bytes``."""
    (length,) = HEADER.unpack(_exactly(sock, HEADER.size))
    if length > max_bytes:
        raise FrameError(f"frame of {length} bytes exceeds the {max_bytes}-byte limit")
    return decode(_exactly(sock, length), object_hook)


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise FrameError("connection closed in the middle of a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class FrameReader:
    """Incremental decoder for a non-blocking socket (used by the host).

    Every frame may be ``max_bytes`` long; ``larger`` maps a frame type to the larger
    limit of frames that start with it (``{"result": ...}``), known from the header and
    the first bytes of the body, before the rest is buffered. Such a frame must then
    decode to that type. With ``max_values``, each body is checked by
    :func:`check_shape` before it is decoded.
    """

    def __init__(self, max_bytes: int, *, larger: Mapping[str, int] | None = None,
                 max_values: int | None = None, max_depth: int = MAX_DEPTH) -> None:
        self.max_bytes = max_bytes
        self.max_values = max_values
        self.max_depth = max_depth
        self._larger = {b'{"type":%s' % _text(kind).encode(): (kind, limit)
                        for kind, limit in (larger or {}).items() if limit > max_bytes}
        self._peek = max(map(len, self._larger), default=0)
        self._ceiling = max([max_bytes, *(limit for _, limit in self._larger.values())])
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return [frame for frame, _ in self.feed_sized(data)]

    def feed_sized(self, data: bytes) -> list[tuple[dict[str, Any], int]]:
        """Whole frames in ``data`` (and what came before), each with its size in bytes."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            kind = None
            if length > self.max_bytes:
                if length > self._ceiling or len(self._buffer) >= HEADER.size + self._peek:
                    kind = self._admit(length)
                else:
                    break  # the first bytes of the body tell whether it may be this long
            if len(self._buffer) < HEADER.size + length:
                break
            body = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            if self.max_values is not None:
                check_shape(body, self.max_values, self.max_depth)
            frame = decode(body)
            if kind is not None and frame["type"] != kind:
                raise FrameError(f"a frame that starts as a {kind!r} frame is of type "
                                 f"{frame['type']!r}")
            frames.append((frame, HEADER.size + length))
        return frames

    def _admit(self, length: int) -> str:
        """The kind of a frame longer than ``max_bytes`` whose limit allows ``length``."""
        head = bytes(self._buffer[HEADER.size:HEADER.size + self._peek])
        for prefix, (kind, limit) in self._larger.items():
            if head.startswith(prefix):
                if length > limit:
                    raise FrameError(f"a {kind!r} frame of {length:,} bytes exceeds the "
                                     f"{limit:,}-byte limit")
                return kind
        raise FrameError(f"frame of {length:,} bytes exceeds the {self.max_bytes:,}-byte limit")

    @property
    def pending(self) -> int:
        return len(self._buffer)
