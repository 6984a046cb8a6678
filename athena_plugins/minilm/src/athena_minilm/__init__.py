"""Athena's offline embedder plugin ``minilm``: all-MiniLM-L6-v2 run with ONNX Runtime or numpy."""

from athena_minilm._files import ModelFilesError, install_command
from athena_minilm.embedder import RUNTIMES, MiniLMEmbedder, RuntimeUnavailableError

__all__ = ["RUNTIMES", "MiniLMEmbedder", "ModelFilesError", "RuntimeUnavailableError",
           "install_command"]
