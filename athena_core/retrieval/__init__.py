"""Retrieval: embedders, vector backends, full-text search and fusion."""

from athena_core.retrieval.embedders import Embedder, EmbedderContext, HashingEmbedder
from athena_core.retrieval.filters import MetadataFilter, RecallFilter
from athena_core.retrieval.vectors import (
    ExactVectorIndex,
    FilteringVectorBackend,
    PersistentVectorBackend,
    VectorBackend,
    VectorBackendContext,
    VectorEntry,
)

__all__ = ["Embedder", "EmbedderContext", "ExactVectorIndex", "FilteringVectorBackend",
           "HashingEmbedder", "MetadataFilter", "PersistentVectorBackend", "RecallFilter",
           "VectorBackend", "VectorBackendContext", "VectorEntry"]
