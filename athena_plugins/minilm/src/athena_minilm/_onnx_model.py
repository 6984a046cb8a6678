"""The encoders' forward pass run by ONNX Runtime, the default runtime.

The graph is the one :mod:`athena_minilm._model` computes with numpy, written as
ONNX operators with the same weights (read from the same ``model.safetensors``),
so both give the same vectors (cosine > 0.99999, checked by the tests). ONNX
Runtime fuses the operators and runs small products with kernels that suit them:
a short query embeds about 2.7x faster than with numpy on one core, and texts
stored in bulk about 1.2x faster per core.

The session runs each forward pass on one thread by default (no hand-offs between
threads on a busy machine; the ``threads`` option raises it, for machines with idle
cores); bulk embedding runs several batches at once instead.
``InferenceSession.run`` is thread-safe.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime

from athena_minilm._model import (
    Architecture,
    load_weights,
    relative_position_bias,
    unit_rows,
)
from athena_minilm._onnx_format import Node, model_bytes

__all__ = ["OnnxEncoder"]

_MASKED = np.float32(-1e9)


class OnnxEncoder:
    """The same encoder as :class:`~athena_minilm._model.NumpyEncoder`, run by ONNX Runtime."""

    def __init__(self, tensors: dict[str, np.ndarray], architecture: Architecture, *,
                 threads: int = 1) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: nothing on stderr in normal use
        self._session = onnxruntime.InferenceSession(
            _graph(tensors, architecture), options, providers=["CPUExecutionProvider"])
        self._architecture = architecture
        self._relative_bias = tensors.get("encoder.relative_attention_bias.weight")
        self._threads = threads

    @classmethod
    def from_directory(cls, directory: Path, *, threads: int = 1) -> OnnxEncoder:
        return cls(*load_weights(directory), threads=threads)

    def encode_batches(self, batches: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """:meth:`encode` of each ``(ids, lengths)`` pair, as many at once as the CPUs allow
        (one per ``threads`` of them)."""
        workers = min(len(batches), max(_usable_cpus() // self._threads, 1))
        if workers < 2:
            return [self.encode(ids, lengths) for ids, lengths in batches]
        with ThreadPoolExecutor(workers, thread_name_prefix="athena-minilm") as pool:
            return list(pool.map(lambda batch: self.encode(*batch), batches))

    def encode(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Unit vectors for a padded ``(batch, tokens)`` id array; ``lengths`` excludes padding."""
        tokens = ids.shape[1]
        mask = np.arange(tokens)[None, :] < lengths[:, None]
        offset = self._architecture.position_offset
        inputs = {
            "ids": ids.astype(np.int64, copy=False),
            "positions": np.arange(offset, offset + tokens, dtype=np.int64),
            "score_bias": np.where(mask, np.float32(0), _MASKED)[:, None, None, :],
            "pool_weights": (mask / lengths[:, None]).astype(np.float32)[:, :, None],
        }
        if self._relative_bias is not None:
            inputs["position_bias"] = relative_position_bias(self._relative_bias, tokens)
        (pooled,) = self._session.run(None, inputs)
        return unit_rows(pooled)


def _usable_cpus() -> int:
    """CPUs this process may run on (all of them where the OS cannot say)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _graph(tensors: dict[str, np.ndarray], architecture: Architecture) -> bytes:
    """The encoder as a serialized ONNX model; activations are ``(batch, tokens, hidden)``.

    MPNet's relative position bias is an input (``position_bias``), computed by
    :func:`~athena_minilm._model.relative_position_bias` for each padded length.
    """
    heads = architecture.heads
    builder = _Builder(tensors, eps=architecture.layer_norm_eps)
    hidden = tensors["embeddings.word_embeddings.weight"].shape[1]
    head_size = hidden // heads
    split_heads = builder.constant("split_heads", np.array([0, 0, heads, head_size]))
    join_heads = builder.constant("join_heads", np.array([0, 0, hidden]))
    scale = builder.constant("scale", np.array(1 / np.sqrt(head_size), dtype=np.float32))

    x = builder.op("Add", builder.op("Gather", "embeddings.word_embeddings.weight", "ids"),
                   builder.op("Gather", "embeddings.position_embeddings.weight", "positions"))
    if "embeddings.token_type_embeddings.weight" in tensors:
        x = builder.op("Add", x, builder.constant(
            "token_type", tensors["embeddings.token_type_embeddings.weight"][0]))
    x = builder.layer_norm(x, "embeddings.LayerNorm")
    score_bias = "score_bias"
    inputs = {"ids": (np.dtype(np.int64), ["batch", "tokens"]),
              "positions": (np.dtype(np.int64), ["tokens"]),
              "score_bias": (np.dtype(np.float32), ["batch", 1, 1, "tokens"]),
              "pool_weights": (np.dtype(np.float32), ["batch", "tokens", 1])}
    if architecture.relative_buckets:
        inputs["position_bias"] = (np.dtype(np.float32), [1, heads, "tokens", "tokens"])
        score_bias = builder.op("Add", "score_bias", "position_bias")
    for index in range(architecture.layers):
        prefix = f"encoder.layer.{index}"
        attention = f"{prefix}.attention.self"
        query, key, value = (
            builder.op("Transpose", builder.op(
                "Reshape", builder.linear(x, f"{attention}.{part}"), split_heads), perm=order)
            for part, order in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]),
                                ("value", [0, 2, 1, 3])))
        scores = builder.op("Add", builder.op("Mul", builder.op("MatMul", query, key), scale),
                            score_bias)
        weights = builder.op("Softmax", scores, axis=-1)
        context = builder.op("Reshape", builder.op(
            "Transpose", builder.op("MatMul", weights, value), perm=[0, 2, 1, 3]), join_heads)
        x = builder.layer_norm(builder.op("Add", builder.linear(
            context, f"{prefix}.attention.output.dense"), x),
            f"{prefix}.attention.output.LayerNorm")
        up = builder.op("Gelu", builder.linear(x, f"{prefix}.intermediate.dense"))
        x = builder.layer_norm(builder.op("Add", builder.linear(up, f"{prefix}.output.dense"),
                                          x), f"{prefix}.output.LayerNorm")
    # Mean over the real tokens: pool_weights is 1/length there and 0 on padding.
    builder.nodes.append(Node("ReduceSum", [builder.op("Mul", x, "pool_weights"),
                                            builder.constant("token_axis", np.array([1]))],
                              ["pooled"], {"keepdims": 0}))
    return model_bytes(
        nodes=builder.nodes, initializers=builder.initializers, name="athena-encoder",
        inputs=inputs, outputs={"pooled": (np.dtype(np.float32), ["batch", hidden])})


class _Builder:
    """Collects nodes and the initializers they use, naming intermediate values."""

    def __init__(self, tensors: dict[str, np.ndarray], *, eps: float) -> None:
        self._tensors = tensors
        self._eps = eps
        self.nodes: list[Node] = []
        self.initializers: dict[str, np.ndarray] = {}

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers[name] = value
        return name

    def weight(self, name: str, *, transpose: bool = False) -> str:
        if name not in self.initializers:
            value = self._tensors[name]
            self.initializers[name] = value.T if transpose else value
        return name

    def op(self, op_type: str, *inputs: str, **attributes: int | float | list[int]) -> str:
        output = f"{op_type.lower()}_{len(self.nodes)}"
        for name in inputs:
            if name in self._tensors:
                self.weight(name)
        self.nodes.append(Node(op_type, inputs, [output], attributes))
        return output

    def linear(self, x: str, prefix: str) -> str:
        """``x @ weight.T + bias``: PyTorch stores linear weights as (out, in)."""
        weight = self.weight(f"{prefix}.weight", transpose=True)
        return self.op("Add", self.op("MatMul", x, weight), self.weight(f"{prefix}.bias"))

    def layer_norm(self, x: str, prefix: str) -> str:
        return self.op("LayerNormalization", x, self.weight(f"{prefix}.weight"),
                       self.weight(f"{prefix}.bias"), axis=-1, epsilon=self._eps)
