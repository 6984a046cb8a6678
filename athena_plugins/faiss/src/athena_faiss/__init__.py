"""Athena's faiss vector backend: exact search for small stores, filtered HNSW for large ones,
saved in the data dir and rebuilt from the database when the saved copy cannot be used."""

from athena_faiss.index import FaissVectorIndex
from athena_faiss.options import FaissOptions

__all__ = ["FaissOptions", "FaissVectorIndex"]
