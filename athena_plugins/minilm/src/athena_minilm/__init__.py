"""Athena's offline embedder plugin: ``minilm`` (all-MiniLM-L6-v2, the default) and
``mpnet`` (all-mpnet-base-v2), run with ONNX Runtime or numpy."""

from athena_minilm._files import ModelFilesError
from athena_minilm.embedder import (
    RUNTIMES,
    MiniLMEmbedder,
    MPNetEmbedder,
    RuntimeUnavailableError,
    SentenceEmbedder,
)

__all__ = ["RUNTIMES", "MPNetEmbedder", "MiniLMEmbedder", "ModelFilesError",
           "RuntimeUnavailableError", "SentenceEmbedder"]
