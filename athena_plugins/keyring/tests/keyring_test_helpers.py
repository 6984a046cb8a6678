"""What the tests share: the keyring backend they select and the config they open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from athena_core.config import Config

#: The backend the tests select: keyrings.alt's file-based keyring.
FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"


def keyring_config(data_dir: Path, **key_options: str) -> Config:
    """A config for ``data_dir`` whose master key is in the keyring."""
    privacy: dict[str, Any] = {"key_provider": "keyring"}
    if key_options:
        privacy["key_options"] = key_options
    return Config.from_mapping(
        {"privacy": privacy, "retrieval": {"embedder": "hashing"},
         "plugins": {"strict": True}},
        data_dir=data_dir, env={})
