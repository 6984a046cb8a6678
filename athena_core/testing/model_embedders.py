"""Embedders that stand in for other models in tests of reindexing and mixed processes.

:class:`OtherModelEmbedder` is the built-in hashing embedder with its coordinates
permuted and sign-flipped by a name: similar texts stay close, but its vectors are
unrelated to the hashing embedder's (or another name's), like a second trained
model's, whatever the dimension. It can also hold one ``embed`` call at a
:class:`FileGate`, so that a test in another process can act, or kill it, while it
embeds. Register it with :class:`OtherModelPlugin` (``embedder = "other-model"``)::

    Athena.open(config=config, plugins=[OtherModelPlugin()])
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from athena_core.hookspecs import hookimpl
from athena_core.options import PluginOptions
from athena_core.retrieval.embedders import EmbedderContext, HashingEmbedder, Purpose

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FileGate", "OtherModelEmbedder", "OtherModelPlugin"]

_OPTIONS = PluginOptions("other-model test embedder", "[retrieval.embedder_options]",
                         ("dimension", "name", "gate_dir", "gate_call"))


@attrs.frozen
class FileGate:
    """A gate between processes in ``directory``: the waiting side creates ``waiting``
    and blocks until someone creates ``open``."""

    directory: Path
    #: How long to wait before giving up (a test that never opens the gate fails).
    give_up_after: float = 300.0

    @property
    def waiting(self) -> Path:
        return self.directory / "waiting"

    def wait(self) -> None:
        self.waiting.touch()
        deadline = time.monotonic() + self.give_up_after
        while not (self.directory / "open").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody opened the gate in {self.directory}")
            time.sleep(0.01)

    def open(self) -> None:
        (self.directory / "open").touch()

    def wait_for_waiter(self) -> None:
        """Block until the other side waits at the gate."""
        deadline = time.monotonic() + self.give_up_after
        while not self.waiting.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody reached the gate in {self.directory}")
            time.sleep(0.01)


class OtherModelEmbedder:
    """Hashing vectors, coordinates permuted and sign-flipped by ``name`` (see module)."""

    def __init__(self, dimension: int = 256, name: str = "other",
                 gate: FileGate | None = None, gate_call: int = 0) -> None:
        import numpy as np

        self._inner = HashingEmbedder(dimension)
        self._name = name
        seed = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
        random = np.random.default_rng(seed)
        self._order = random.permutation(dimension)
        self._signs = random.choice(np.array([-1.0, 1.0], dtype=np.float32), dimension)
        self._gate, self._gate_call = gate, gate_call
        #: ``embed`` calls so far, and the texts they embedded.
        self.calls = 0
        self.texts_embedded = 0

    @classmethod
    def from_context(cls, context: EmbedderContext) -> OtherModelEmbedder:
        options: Mapping[str, Any] = context.options
        _OPTIONS.check_names(options)
        gate_dir = options.get("gate_dir")
        return cls(options.get("dimension", 256), str(options.get("name", "other")),
                   FileGate(Path(gate_dir)) if gate_dir else None,
                   int(options.get("gate_call", 0)))

    @property
    def identity(self) -> str:
        return f"other-model-{self._name}/{self._inner.dimension}"

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed(self, texts: Sequence[str], *, purpose: Purpose = "document") -> np.ndarray:
        self.calls += 1
        if self._gate is not None and self.calls == self._gate_call:
            self._gate.wait()
        self.texts_embedded += len(texts)
        vectors = self._inner.embed(texts, purpose=purpose)
        return vectors[:, self._order] * self._signs  # type: ignore[no-any-return]


class OtherModelPlugin:
    """Registers :class:`OtherModelEmbedder` as ``other-model``."""

    @hookimpl
    def athena_register_embedders(self, register: Callable[..., None]) -> None:
        register("other-model", OtherModelEmbedder.from_context)
