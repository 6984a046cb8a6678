"""The encoders' forward pass in numpy: a BERT or MPNet encoder, mean pooling.

all-MiniLM-L6-v2 is a 6-layer BERT; all-mpnet-base-v2 a 12-layer MPNet, which is
the same but for its tensor names (renamed to BERT's on loading), its layer-norm
epsilon and three things :class:`Architecture` records: its positions start after
the padding id, it has no token types, and every attention score gets a learnt
bias for how far apart the two tokens are (T5's relative position buckets).

The ``numpy`` runtime, and the reference for the default ONNX Runtime one
(:mod:`athena_minilm._onnx_model`), which reads its weights with :func:`load_weights`.

The weights are read from the ``model.safetensors`` file by memory-mapping it
(read-only, shared between processes, paged in on use); only the fused
query/key/value matrices are copied. Everything here is a pure function of
read-only arrays, so one :class:`NumpyEncoder` serves many threads at once.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Architecture", "NumpyEncoder", "load_weights", "read_safetensors",
           "relative_position_bias", "unit_rows"]

#: Batches up to this many tokens run on one BLAS thread: for small products the
#: threads' hand-offs cost more than they save, and on a busy machine far more
#: (one 20-word text: 10 ms p95 on one thread, over 200 ms on two, measured here).
_ONE_THREAD_TOKENS = 1024
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
#: Added to the attention scores of padding positions: exp() of it is exactly 0.
_MASKED = np.float32(-1e9)
#: MPNet's tensor names (per layer) -> BERT's, so that one encoder reads both.
_MPNET_NAMES = (("attention.attn.q.", "attention.self.query."),
                ("attention.attn.k.", "attention.self.key."),
                ("attention.attn.v.", "attention.self.value."),
                ("attention.attn.o.", "attention.output.dense."),
                ("attention.LayerNorm.", "attention.output.LayerNorm."))
#: Relative distances from this on share MPNet's last bucket (as in its reference code).
_RELATIVE_MAX_DISTANCE = 128


@dataclass(frozen=True)
class Architecture:
    """What ``config.json`` says about the encoder, beyond its weights."""

    heads: int
    layers: int
    layer_norm_eps: float
    #: Position id of the first token: 0 for BERT; MPNet counts from ``pad_token_id + 1``.
    position_offset: int = 0
    #: Relative position buckets of MPNet's attention bias; 0 for none (BERT).
    relative_buckets: int = 0


class _Layer:
    def __init__(self, tensors: dict[str, np.ndarray], prefix: str) -> None:
        def get(name: str) -> np.ndarray:
            return tensors[f"{prefix}.{name}"]

        attention = "attention.self"
        # One (hidden, 3 * hidden) product instead of three.
        self.qkv_weight = np.ascontiguousarray(np.concatenate(
            [get(f"{attention}.{part}.weight") for part in ("query", "key", "value")]).T)
        self.qkv_bias = np.concatenate(
            [get(f"{attention}.{part}.bias") for part in ("query", "key", "value")])
        self.out_weight = get("attention.output.dense.weight").T
        self.out_bias = get("attention.output.dense.bias")
        self.norm1 = (get("attention.output.LayerNorm.weight"),
                      get("attention.output.LayerNorm.bias"))
        self.up_weight = get("intermediate.dense.weight").T
        self.up_bias = get("intermediate.dense.bias")
        self.down_weight = get("output.dense.weight").T
        self.down_bias = get("output.dense.bias")
        self.norm2 = (get("output.LayerNorm.weight"), get("output.LayerNorm.bias"))


class NumpyEncoder:
    """A BERT or MPNet encoder with mean pooling and L2 normalisation (sentence-transformers'
    recipe)."""

    def __init__(self, tensors: dict[str, np.ndarray], architecture: Architecture, *,
                 threads: int = 1) -> None:
        self.word_embeddings = tensors["embeddings.word_embeddings.weight"]
        self.position_embeddings = tensors["embeddings.position_embeddings.weight"]
        token_types = tensors.get("embeddings.token_type_embeddings.weight")
        self.token_type_embedding = np.float32(0) if token_types is None else token_types[0]
        self.embedding_norm = (tensors["embeddings.LayerNorm.weight"],
                               tensors["embeddings.LayerNorm.bias"])
        self.layers = [_Layer(tensors, f"encoder.layer.{i}")
                       for i in range(architecture.layers)]
        self.relative_bias = tensors.get("encoder.relative_attention_bias.weight")
        self.hidden = self.word_embeddings.shape[1]
        self.architecture = architecture
        self.small_batch_threads = threads
        from threadpoolctl import ThreadpoolController

        self._threads = ThreadpoolController()

    @classmethod
    def from_directory(cls, directory: Path, *, threads: int = 1) -> NumpyEncoder:
        """Load ``model.safetensors`` with the shape given by ``config.json``."""
        return cls(*load_weights(directory), threads=threads)

    def encode_batches(self, batches: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """:meth:`encode` of each ``(ids, lengths)`` pair, one after another; small
        batches on ``threads`` BLAS threads (one by default), larger ones on all of them."""
        out = []
        for ids, lengths in batches:
            if ids.size <= _ONE_THREAD_TOKENS:
                with self._threads.limit(limits=self.small_batch_threads, user_api="blas"):
                    out.append(self.encode(ids, lengths))
            else:
                out.append(self.encode(ids, lengths))
        return out

    def encode(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Unit vectors for a padded ``(batch, tokens)`` id array; ``lengths`` excludes padding."""
        batch, tokens = ids.shape
        architecture = self.architecture
        hidden, heads, eps = self.hidden, architecture.heads, architecture.layer_norm_eps
        head_size = hidden // heads
        mask = np.arange(tokens)[None, :] < lengths[:, None]
        offset = architecture.position_offset
        x = self.word_embeddings[ids] + self.position_embeddings[offset:offset + tokens] \
            + self.token_type_embedding
        x = _layer_norm(x.reshape(batch * tokens, hidden), *self.embedding_norm, eps)
        score_bias = np.where(mask, np.float32(0), _MASKED)[:, None, None, :]
        if self.relative_bias is not None:
            score_bias = score_bias + relative_position_bias(self.relative_bias, tokens)
        scale = np.float32(1 / np.sqrt(head_size))
        for layer in self.layers:
            qkv = x @ layer.qkv_weight
            qkv += layer.qkv_bias
            qkv = qkv.reshape(batch, tokens, 3, heads, head_size).transpose(2, 0, 3, 1, 4)
            query, key, value = qkv[0], qkv[1], qkv[2]
            scores = query @ key.transpose(0, 1, 3, 2)
            scores *= scale
            scores += score_bias
            _softmax(scores)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * tokens, hidden)
            attended = context @ layer.out_weight
            attended += layer.out_bias
            attended += x
            x = _layer_norm(attended, *layer.norm1, eps)
            up = x @ layer.up_weight
            up += layer.up_bias
            _gelu(up)
            down = up @ layer.down_weight
            down += layer.down_bias
            down += x
            x = _layer_norm(down, *layer.norm2, eps)
        x = x.reshape(batch, tokens, hidden)
        pooled = (x * mask[:, :, None]).sum(axis=1) / lengths[:, None].astype(np.float32)
        return unit_rows(pooled)


def unit_rows(pooled: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (sentence-transformers' Normalize step)."""
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32, copy=False)


def load_weights(directory: Path) -> tuple[dict[str, np.ndarray], Architecture]:
    """The tensors of ``model.safetensors`` (with BERT's names) and the architecture that
    ``config.json`` describes."""
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    tensors = read_safetensors(directory / "model.safetensors")
    heads, layers = int(config["num_attention_heads"]), int(config["num_hidden_layers"])
    eps = float(config.get("layer_norm_eps", 1e-12))
    if config.get("model_type") != "mpnet":
        return tensors, Architecture(heads, layers, eps)
    for old, new in _MPNET_NAMES:
        tensors = {name.replace(old, new): tensor for name, tensor in tensors.items()}
    return tensors, Architecture(heads, layers, eps,
                                 position_offset=int(config["pad_token_id"]) + 1,
                                 relative_buckets=int(config["relative_attention_num_buckets"]))


def relative_position_bias(table: np.ndarray, tokens: int) -> np.ndarray:
    """MPNet's attention bias, ``(1, heads, tokens, tokens)``, from its ``(buckets, heads)``
    table: half the buckets for keys before the query, half for after; within each half,
    one bucket per distance up to a quarter of them, then logarithmically wider ones."""
    half = table.shape[0] // 2
    exact = half // 2
    places = np.arange(tokens)
    distance = places[:, None] - places[None, :]  # query position - key position
    bucket = np.where(distance < 0, half, 0)
    distance = np.abs(distance)
    wide = exact + (np.log(np.maximum(distance, 1) / exact)
                    / math.log(_RELATIVE_MAX_DISTANCE / exact) * (half - exact)).astype(np.intp)
    bucket += np.where(distance < exact, distance, np.minimum(wide, half - 1))
    return np.ascontiguousarray(table[bucket].transpose(2, 0, 1)[None])


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a ``.safetensors`` file as read-only arrays over a memory map."""
    with path.open("rb") as file:
        (header_size,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(header_size))
    with path.open("rb") as file:
        # A plain read-only ndarray over the map (np.memmap's subclass slows every product).
        data = np.frombuffer(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ),
                             dtype=np.uint8)
    start = 8 + header_size
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_DTYPES[info["dtype"]])
        begin, end = info["data_offsets"]
        array = data[start + begin:start + end].view(dtype).reshape(info["shape"])
        tensors[name] = array if dtype == np.float32 or dtype.kind != "f" \
            else array.astype(np.float32)
    return tensors


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
                ) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    centred *= 1 / np.sqrt(variance + np.float32(eps))
    centred *= weight
    centred += bias
    return centred


def _softmax(scores: np.ndarray) -> None:
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)


def _gelu(x: np.ndarray) -> None:
    """In place: ``x * Φ(x)`` with the exact (erf) Gaussian CDF that BERT uses.

    numpy has no erf; Abramowitz & Stegun 7.1.26 is within 1.5e-7 of it, below
    float32 resolution at the values that matter.
    """
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1 / (1 + np.float32(0.3275911) * z)
    poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (
        np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
    erf_abs = 1 - poly * np.exp(-z * z)
    # Φ(x) = (1 + erf(x / √2)) / 2, with erf odd.
    np.copysign(erf_abs, x, out=erf_abs)
    erf_abs += 1
    erf_abs *= np.float32(0.5)
    x *= erf_abs
