"""The ``minilm`` and ``mpnet`` embedders: sentence-transformers models run with ONNX
Runtime or numpy, fully offline.

Importing this module is cheap (no numpy, no file access). Creating an embedder
only checks that the model files are installed; the first ``embed`` (once per
instance) unpacks them if they come in an archive (mpnet, once per machine),
verifies their sha256, memory-maps the weights and starts the runtime (for
MiniLM about 0.3 s with ONNX Runtime, 0.1 s with numpy).
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from athena_core.errors import AthenaError, InvalidArgumentError
from athena_core.options import PluginOptions

from athena_minilm._files import check_files, find_model_dir
from athena_minilm._models import MINILM, MPNET, ModelSpec

if TYPE_CHECKING:
    import numpy as np
    from athena_core.retrieval import EmbedderContext

    from athena_minilm._model import NumpyEncoder
    from athena_minilm._onnx_model import OnnxEncoder
    from athena_minilm._tokenizer import WordPieceTokenizer

__all__ = ["RUNTIMES", "MPNetEmbedder", "MiniLMEmbedder", "RuntimeUnavailableError",
           "SentenceEmbedder"]

_OPTION_NAMES = ("model_dir", "max_tokens", "cache_size", "batch_size", "runtime", "threads")
#: "onnxruntime" (the default) and "numpy" compute the same vectors; numpy is slower
#: and needs nothing beyond numpy, for platforms without ONNX Runtime wheels.
RUNTIMES = ("onnxruntime", "numpy")
#: A batch holds at most this many tokens (texts x padded length), which bounds
#: the attention scores to about 50 MB however long the texts are.
_BATCH_TOKENS = 4096
_PURPOSES = ("document", "query")
#: A text waiting for the model: its cache key, word-piece ids, whether it was cut.
_Pending = tuple[bytes, list[int], bool]


class RuntimeUnavailableError(AthenaError):
    """The runtime chosen to run the model (``runtime`` option) cannot be imported."""


class SentenceEmbedder:
    """A sentence-transformers model's embeddings (mean pooling, unit length), thread-safe;
    :attr:`spec` says which model (the subclasses below).

    * Texts longer than ``max_tokens`` word pieces (the model's own window, counting
      the two special ones) are truncated; each call that truncated something logs a
      warning on the ``athena.<embedder>`` logger, with the texts' positions in
      ``record.truncated`` (never their content). :meth:`count_tokens` tells
      ahead of time.
    * A text with no word pieces (empty, or only spaces and control characters)
      gets the zero vector: it matches nothing.
    * Document batches are sorted by length and padded per batch; with ONNX
      Runtime, several batches run at once, one per CPU.
    * Up to ``cache_size`` vectors are kept in memory, keyed by a hash of the text,
      so repeated texts (the same query asked again, a memory stored twice) skip
      the model. The model is symmetric: queries and documents embed the same.
    """

    spec: ClassVar[ModelSpec]

    def __init__(self, model_dir: str | Path | None = None, *,
                 max_tokens: int | None = None, cache_size: int = 4096,
                 batch_size: int = 32, runtime: str = "onnxruntime", threads: int = 1) -> None:
        spec = self.spec
        options = _options(spec)
        self._max_tokens = options.integer(
            "max_tokens", spec.max_tokens if max_tokens is None else max_tokens,
            low=3, high=512)
        self._cache_size = options.integer("cache_size", cache_size, low=0)
        self._batch_size = options.integer("batch_size", batch_size, low=1)
        self._runtime = options.choice("runtime", runtime, RUNTIMES)
        self._threads = options.integer("threads", threads, low=1, high=64)
        source = spec.source
        # The installed wheels' files may need unpacking first; a model_dir is used as it is.
        self._from_wheels = model_dir is None
        self._directory = (source.locate() if model_dir is None else find_model_dir(
            model_dir, source.sha256, model=spec.model, install=source.install))
        self._logger = logging.getLogger(f"athena.{spec.embedder}")
        self._load_lock = threading.Lock()
        self._loaded: tuple[WordPieceTokenizer, NumpyEncoder | OnnxEncoder] | None = None
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[bytes, tuple[np.ndarray, bool]] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0

    @classmethod
    def from_context(cls, context: EmbedderContext) -> SentenceEmbedder:
        _options(cls.spec).check_names(context.options)
        options: dict[str, Any] = dict(context.options)
        return cls(options.pop("model_dir", None), **options)

    @property
    def identity(self) -> str:
        weights = self.spec.source.sha256["model.safetensors"]
        assert weights is not None
        return f"{self.spec.model}@{weights[:12]}/{self.dimension}/{self._max_tokens}t"

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    @property
    def max_tokens(self) -> int:
        """The model window in word pieces, the two special ones included."""
        return self._max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces each text would use, the two special ones included, capped at
        ``max_tokens + 1``: a count above :attr:`max_tokens` means it would be truncated,
        0 means the text has none (its vector is zero)."""
        tokenizer, _ = self._load()
        counts = []
        for text in _check_texts(texts):
            ids, truncated = tokenizer.encode(text, self._max_tokens - 2)
            counts.append(len(ids) + 2 + truncated if ids else 0)
        return counts

    def embed(self, texts: Sequence[str], *, purpose: str = "document") -> np.ndarray:
        import numpy as np

        if purpose not in _PURPOSES:
            raise InvalidArgumentError(f"purpose must be one of {_PURPOSES}, not {purpose!r}.")
        texts = _check_texts(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        keys = [_key(text) for text in texts]
        found = self._cached(keys)
        todo: dict[bytes, int] = {}  # distinct uncached texts -> first position
        for row, key in enumerate(keys):
            if key not in found:
                todo.setdefault(key, row)
        if todo:
            found.update(self._compute({key: texts[row] for key, row in todo.items()}))
        truncated = []
        for row, key in enumerate(keys):
            vector, cut = found[key]
            out[row] = vector
            if cut:
                truncated.append(row)
        if truncated:
            self._logger.warning(
                "%s truncated %d of %d %s text(s) to the model window of %d word "
                "pieces; their vectors reflect only the beginning (positions %s).",
                self.spec.embedder, len(truncated), len(texts), purpose, self._max_tokens,
                _positions(truncated), extra={"truncated": truncated,
                                              "window": self._max_tokens})
        return out

    # --- internals -------------------------------------------------------------

    def _load(self) -> tuple[WordPieceTokenizer, NumpyEncoder | OnnxEncoder]:
        loaded = self._loaded
        if loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    from athena_minilm._tokenizer import WordPieceTokenizer

                    spec, directory = self.spec, self._directory
                    if self._from_wheels:
                        directory = spec.source.prepare(directory)
                    hint = (spec.source.repair(directory) if self._from_wheels else
                            f"Point `model_dir` at {spec.model}'s own files.")
                    check_files(directory, spec.source.sha256, model=spec.model, hint=hint)
                    self._loaded = (
                        WordPieceTokenizer.from_vocab_file(directory / "vocab.txt",
                                                           spec.special_tokens),
                        _runtime_class(self._runtime).from_directory(
                            directory, threads=self._threads))
                loaded = self._loaded
        return loaded

    def _cached(self, keys: list[bytes]) -> dict[bytes, tuple[np.ndarray, bool]]:
        found = {}
        with self._cache_lock:
            for key in keys:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    found[key] = hit
            self.cache_hits += sum(1 for key in keys if key in found)
            self.cache_misses += sum(1 for key in keys if key not in found)
        return found

    def _compute(self, texts: dict[bytes, str]) -> dict[bytes, tuple[np.ndarray, bool]]:
        import numpy as np

        tokenizer, model = self._load()
        results: dict[bytes, tuple[np.ndarray, bool]] = {}
        pending: list[_Pending] = []
        for key, text in texts.items():
            ids, truncated = tokenizer.encode(text, self._max_tokens - 2)
            if ids:
                pending.append((key, [tokenizer.cls_id, *ids, tokenizer.sep_id], truncated))
            else:
                results[key] = (np.zeros(self.dimension, dtype=np.float32), truncated)
        # Shortest first, so that each batch pads its texts to about the same length.
        pending.sort(key=lambda item: len(item[1]))
        batches = list(self._batches(pending))
        arrays = []
        for batch in batches:
            lengths = np.array([len(ids) for _, ids, _ in batch])
            ids = np.full((len(batch), int(lengths.max())), tokenizer.pad_id, dtype=np.intp)
            for row, (_, piece_ids, _) in enumerate(batch):
                ids[row, :len(piece_ids)] = piece_ids
            arrays.append((ids, lengths))
        for batch, vectors in zip(batches, model.encode_batches(arrays), strict=True):
            for row, (key, _, truncated) in enumerate(batch):
                results[key] = (vectors[row].copy(), truncated)
        self._store(results)
        return results

    def _batches(self, pending: list[_Pending]) -> Iterator[list[_Pending]]:
        """Runs of at most ``batch_size`` texts and ``_BATCH_TOKENS`` padded tokens."""
        start = 0
        while start < len(pending):
            end = start + 1
            while (end < len(pending) and end - start < self._batch_size
                   and (end - start + 1) * len(pending[end][1]) <= _BATCH_TOKENS):
                end += 1
            yield pending[start:end]
            start = end

    def _store(self, results: dict[bytes, tuple[np.ndarray, bool]]) -> None:
        if not self._cache_size:
            return
        with self._cache_lock:
            for key, (vector, truncated) in results.items():
                vector.setflags(write=False)
                self._cache[key] = (vector, truncated)
                self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


class MiniLMEmbedder(SentenceEmbedder):
    """all-MiniLM-L6-v2 (384 dimensions, a 256 word-piece window): Athena's default."""

    spec = MINILM


class MPNetEmbedder(SentenceEmbedder):
    """all-mpnet-base-v2 (768 dimensions, a 384 word-piece window): better recall than
    MiniLM for about five times its cost."""

    spec = MPNET


def _options(spec: ModelSpec) -> PluginOptions:
    return PluginOptions(f"{spec.embedder} embedder", "[retrieval.embedder_options]",
                         _OPTION_NAMES)


def _runtime_class(runtime: str) -> type[NumpyEncoder | OnnxEncoder]:
    if runtime == "numpy":
        from athena_minilm._model import NumpyEncoder

        return NumpyEncoder
    try:
        from athena_minilm._onnx_model import OnnxEncoder
    except ImportError as error:
        raise RuntimeUnavailableError(
            f"The embedder's default runtime needs ONNX Runtime, which failed to "
            f"import ({error}).",
            hint=f"Install it ({sys.executable} -m pip install onnxruntime), or set "
                 f"runtime = \"numpy\" under [retrieval.embedder_options] (same vectors, "
                 f"slower).") from error
    return OnnxEncoder


def _key(text: str) -> bytes:
    # The hash, not the text, is kept: bounded keys, and no copy of memories' text.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidArgumentError("embed() takes a sequence of texts, not one string.")
    texts = list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise InvalidArgumentError(f"texts must be strings, not {type(text).__name__}.")
    return texts


def _positions(rows: list[int], shown: int = 10) -> str:
    listed = ", ".join(str(row) for row in rows[:shown])
    return listed if len(rows) <= shown else f"{listed}, ... ({len(rows)} in all)"
