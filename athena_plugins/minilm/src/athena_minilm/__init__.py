"""Athena's offline embedder plugin: all-MiniLM-L6-v2 run with numpy, registered as ``minilm``."""

from athena_minilm._files import ModelFilesError, install_command
from athena_minilm.embedder import MiniLMEmbedder

__all__ = ["MiniLMEmbedder", "ModelFilesError", "install_command"]
