"""Just enough of the ONNX file format to hand ONNX Runtime a model built in memory.

An ONNX model is a protocol-buffers message (``ModelProto`` in ``onnx.proto``).
The ``onnx`` package can write one, but importing it takes most of a second, which
every process would pay on its first embed; the few messages a feed-forward graph
needs are written here instead, field numbers taken from ``onnx.proto``. The tests
check the result with ``onnx.checker`` and against the numpy forward pass.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["IR_VERSION", "Node", "model_bytes"]

#: ONNX IR version 9 goes with opset 20 (the newest operator used here is Gelu-20).
IR_VERSION = 9
_OPSET = 20
_ELEMENT_TYPES = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}
# AttributeProto.AttributeType
_FLOAT, _INT, _INTS = 1, 2, 7


@dataclass(frozen=True)
class Node:
    """One operator: ``op_type`` applied to named inputs, giving named outputs."""

    op_type: str
    inputs: Sequence[str]
    outputs: Sequence[str]
    attributes: dict[str, int | float | Sequence[int]] = field(default_factory=dict)


def model_bytes(*, nodes: Iterable[Node], initializers: dict[str, np.ndarray],
                inputs: dict[str, tuple[np.dtype, Sequence[int | str]]],
                outputs: dict[str, tuple[np.dtype, Sequence[int | str]]],
                name: str) -> bytes:
    """A serialized ``ModelProto`` (default-domain opset 20).

    ``inputs`` and ``outputs`` map names to a dtype and a shape whose entries are
    sizes or symbolic names; ``initializers`` are the constant tensors. Messages
    are built as lists of pieces and joined once, so each tensor is copied once.
    """
    graph = [*(piece for node in nodes for piece in _message(1, _node(node))),
             *_bytes(2, name.encode()),
             *(piece for key, value in initializers.items()
               for piece in _message(5, _tensor(key, value))),
             *(piece for key, spec in inputs.items()
               for piece in _message(11, _value_info(key, *spec))),
             *(piece for key, spec in outputs.items()
               for piece in _message(12, _value_info(key, *spec)))]
    opset = [*_bytes(1, b""), _varint_field(2, _OPSET)]
    return b"".join([_varint_field(1, IR_VERSION), *_bytes(2, b"athena-minilm"),
                     *_message(7, graph), *_message(8, opset)])


_Pieces = list[bytes | memoryview]


def _node(node: Node) -> _Pieces:
    pieces = [*(piece for value in node.inputs for piece in _bytes(1, value.encode())),
              *(piece for value in node.outputs for piece in _bytes(2, value.encode())),
              *_bytes(4, node.op_type.encode())]
    for key, value in node.attributes.items():
        pieces.extend(_message(5, _attribute(key, value)))
    return pieces


def _attribute(name: str, value: int | float | Sequence[int]) -> _Pieces:
    head = _bytes(1, name.encode())
    if isinstance(value, bool):
        raise TypeError(f"attribute {name}: booleans are not ONNX attributes")
    if isinstance(value, int):
        return [*head, _varint_field(3, value), _varint_field(20, _INT)]
    if isinstance(value, float):
        return [*head, _key(2, 5), struct.pack("<f", value), _varint_field(20, _FLOAT)]
    return [*head, *(_varint_field(8, item) for item in value), _varint_field(20, _INTS)]


def _tensor(name: str, array: np.ndarray) -> _Pieces:
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return [*(_varint_field(1, size) for size in array.shape),
            _varint_field(2, _ELEMENT_TYPES[array.dtype]),
            *_bytes(8, name.encode()),
            *_bytes(9, memoryview(array).cast("B"))]


def _value_info(name: str, dtype: np.dtype, shape: Sequence[int | str]) -> _Pieces:
    dims: _Pieces = []
    for size in shape:
        dims.extend(_message(1, _bytes(2, size.encode()) if isinstance(size, str)
                             else [_varint_field(1, size)]))
    tensor_type = [_varint_field(1, _ELEMENT_TYPES[np.dtype(dtype)]), *_message(2, dims)]
    return [*_bytes(1, name.encode()), *_message(2, _message(1, tensor_type))]


# --- protocol-buffers wire format --------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _varint_field(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _bytes(number: int, value: bytes | memoryview) -> _Pieces:
    return [_key(number, 2), _varint(len(value)), value]


def _message(number: int, pieces: _Pieces) -> _Pieces:
    """An embedded message: a length-delimited field holding the pieces."""
    return [_key(number, 2), _varint(sum(len(piece) for piece in pieces)), *pieces]
