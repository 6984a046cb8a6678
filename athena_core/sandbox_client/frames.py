"""Length-prefixed JSON frames: 4-byte big-endian length, then UTF-8 JSON.

Shared by the host and the sandboxed worker (stdlib only).
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">I")


class FrameError(Exception):
    """A frame was malformed, too large, or the peer went away mid-frame."""


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


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
    """Incremental decoder for a non-blocking socket (used by the host)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return [frame for frame, _ in self.feed_sized(data)]

    def feed_sized(self, data: bytes) -> list[tuple[dict[str, Any], int]]:
        """Whole frames in ``data`` (and what came before), each with its size in bytes."""
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > self.max_bytes:
                raise FrameError(
                    f"frame of {length} bytes exceeds the {self.max_bytes}-byte limit")
            if len(self._buffer) < HEADER.size + length:
                break
            body = bytes(self._buffer[HEADER.size:HEADER.size + length])
            del self._buffer[:HEADER.size + length]
            frames.append((decode(body), HEADER.size + length))
        return frames

    @property
    def pending(self) -> int:
        return len(self._buffer)
